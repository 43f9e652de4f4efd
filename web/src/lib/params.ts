// A strategy's parameter values as a trader reads and types them: the optimisation page's
// ranges and rows, the trend page's suggestions and the Apply dialog write them alike.

export type ParamValue = number | boolean;

/** A number as a trader types it in a range: 5, not 5.0; 0.25 as is. */
export function numberText(value: number | boolean): string {
  const number = Number(value);
  return Number.isInteger(number) ? String(number) : String(Number(number.toPrecision(12)));
}

/** fast=10 slow=40: the parameters in their declared order. */
export function paramsText(params: Record<string, ParamValue>): string {
  return Object.entries(params).map(([name, value]) => `${name}=${numberText(value)}`).join(" ");
}
