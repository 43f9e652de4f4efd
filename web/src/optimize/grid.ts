// The parameter ranges of an optimisation as the server reads them (research/optimize.py:
// parse_range, search_range, default_grid, grid_combinations), so the page can show the
// combination count, and what the strategy's rules leave of it, as the trader types.
import { numberText } from "../lib/params";
import type { ParamSpec } from "../lib/types";
import type { ParamValue } from "./types";

export { numberText };

export const MAX_COMBINATIONS = 100_000;
/** Values per parameter in the search a job runs when it is given no ranges. */
export const SEARCH_VALUES = 10;

/** What the trader typed in a parameter's row: each field may be empty. */
export interface RangeInput {
  from: string;
  to: string;
  step: string;
}

export const EMPTY_RANGE: RangeInput = { from: "", to: "", step: "" };

function roundTo(value: number, digits: number): number {
  return Math.abs(value) < 1e21 ? Number.parseFloat(value.toFixed(digits)) : value;
}

/** `low, low+step, …` up to `high`, including `high` when it falls on a step (grid_values). */
export function gridValues(low: number, high: number, step: number, whole = false): number[] {
  const count = Math.floor((high - low) / step + 1e-9) + 1;
  const values: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const value = low + i * step;
    values.push(whole ? Math.round(value) : roundTo(value, 12));
  }
  return values;
}

/** Whether a search without ranges varies this parameter: those that declare a step, but
 * never the order size (`quantity`), which changes what is traded, not the rule. */
export function searchedByDefault(param: ParamSpec): boolean {
  return param.step !== null && param.step !== undefined && param.name !== "quantity";
}

/** `[first, last, step]` of a parameter's default search: about ten values from half its
 * default to twice it (from its default up for a default of 0), within its bounds, on a
 * multiple of its declared step and through the default; null when it is held. */
export function searchRange(param: ParamSpec): [number, number, number] | null {
  const { low, high, step } = param;
  if (param.type === "bool" || step == null || low == null || high == null) return null;
  const base = Number(param.default);
  let first: number;
  let last: number;
  if (base > 0) {
    first = base / 2;
    last = base * 2;
  } else {
    first = base;
    last = base + (SEARCH_VALUES - 1) * step;
  }
  first = Math.max(first, low);
  last = Math.min(last, high);
  let spacing = Math.ceil((last - first) / (SEARCH_VALUES - 1) / step - 1e-9) * step;
  spacing = Math.max(spacing, step);
  const below = Math.floor((base - first) / spacing + 1e-9);
  const above = Math.floor((last - base) / spacing + 1e-9);
  return [roundTo(base - below * spacing, 10), roundTo(base + above * spacing, 10),
    roundTo(spacing, 10)];
}

/** The row a parameter starts with: its default search, its default alone when it is
 * searched but held, and empty (its default, unsearched) for the others. */
export function defaultRange(param: ParamSpec): RangeInput {
  if (!searchedByDefault(param)) return EMPTY_RANGE;
  if (param.type === "bool") return { from: "0", to: "1", step: "1" };
  const span = searchRange(param);
  if (!span) return { from: numberText(Number(param.default)), to: "", step: "" };
  return { from: numberText(span[0]), to: numberText(span[1]), step: numberText(span[2]) };
}

/** The values the server searches for a parameter given no ranges at all (default_grid), or
 * null for one it holds at its default. */
export function defaultValues(param: ParamSpec): ParamValue[] | null {
  if (!searchedByDefault(param)) return null;
  if (param.type === "bool") return [false, true];
  const span = searchRange(param);
  if (!span) return [coerce(param, Number(param.default))];
  return gridValues(span[0], span[1], span[2], param.type === "int");
}

/** A value as the parameter's type holds it (Param.coerce); throws a sentence if it cannot. */
export function coerce(param: ParamSpec, value: number): ParamValue {
  if (!Number.isFinite(value)) throw new Error(`${param.name} must be a finite number`);
  if (param.type === "bool") {
    if (value === 0 || value === 1) return value === 1;
    throw new Error(`${param.name} must be true or false (got ${numberText(value)})`);
  }
  if (param.type === "int" && !Number.isInteger(value)) {
    throw new Error(`${param.name} must be a whole number (got ${numberText(value)})`);
  }
  return value;
}

/** What one row asks of the server. */
export type RowPlan =
  | { kind: "default" }                                    // empty row: held at its default
  | { kind: "values"; values: ParamValue[]; request: string | number[] }
  | { kind: "error"; message: string };

function parseNumber(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : Number.NaN;
}

/** The values a row stands for, and what to send: `"lo:hi:step"` for a range, `[v]` for one
 * value, as parse_range and the grid's coercion read them. */
export function planRow(param: ParamSpec, input: RangeInput): RowPlan {
  const name = param.name;
  const from = parseNumber(input.from);
  const to = parseNumber(input.to);
  let step = parseNumber(input.step);
  if (from === null && to === null && step === null) return { kind: "default" };
  if ([from, to, step].some((v) => v !== null && Number.isNaN(v))) {
    return { kind: "error", message: `${name}: the range's values must be numbers` };
  }
  if (from === null) return { kind: "error", message: `${name}: give a "from" value` };
  try {
    if (to === null) {
      if (step !== null) return { kind: "error", message: `${name}: give a "to" value` };
      return { kind: "values", values: [coerce(param, from)], request: [from] };
    }
    if (step === null) {
      if (param.step == null) {
        return { kind: "error", message: `${name}: give a step (it declares none)` };
      }
      step = param.step;
    }
    if (from > to) {
      return { kind: "error", message: `${name}: from ${numberText(from)} is above to ${numberText(to)}` };
    }
    if (!(step > 0)) return { kind: "error", message: `${name}: the step must be positive` };
    if ((to - from) / step + 1 > MAX_COMBINATIONS) {
      return { kind: "error", message: `${name}: more than ${MAX_COMBINATIONS.toLocaleString("en-US")} values` };
    }
    const seen = new Map<number, ParamValue>();
    for (const value of gridValues(from, to, step)) {
      const typed = coerce(param, value);
      if (!seen.has(Number(typed))) seen.set(Number(typed), typed);
    }
    const request = `${numberText(from)}:${numberText(to)}:${numberText(step)}`;
    return { kind: "values", values: [...seen.values()], request };
  } catch (error) {
    return { kind: "error", message: `grid of ${name}: ${(error as Error).message}` };
  }
}

/** The values per searched parameter, what to send as `grid`, and the rows' problems. */
export interface GridPlan {
  values: Record<string, ParamValue[]>;
  request: Record<string, string | number[]>;
  problems: string[];
  /** No row filled: the server runs its default search (an empty `grid`). */
  isDefault: boolean;
}

export function planGrid(params: ParamSpec[], rows: Record<string, RangeInput>): GridPlan {
  const values: Record<string, ParamValue[]> = {};
  const request: Record<string, string | number[]> = {};
  const problems: string[] = [];
  for (const param of params) {
    const plan = planRow(param, rows[param.name] ?? EMPTY_RANGE);
    if (plan.kind === "error") problems.push(plan.message);
    else if (plan.kind === "values") {
      values[param.name] = plan.values;
      request[param.name] = plan.request;
    }
  }
  const isDefault = Object.keys(request).length === 0 && problems.length === 0;
  if (isDefault) {
    for (const param of params) {
      const searched = defaultValues(param);
      if (searched) values[param.name] = searched;
    }
  }
  return { values, request, problems, isDefault };
}

/** The grid's size before any rule: the product of its value counts (grid_size). */
export function gridSize(values: Record<string, ParamValue[]>): number {
  const lists = Object.values(values);
  return lists.length ? lists.reduce((size, list) => size * list.length, 1) : 0;
}

/** A strategy's rule between two parameters or a parameter and a number (`fast < slow`). */
export interface Constraint {
  left: string;
  op: "<" | "<=" | ">" | ">=" | "!=";
  right: string;
}

const CONSTRAINT = /^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>|!=)\s*([A-Za-z_]\w*|-?[\d.]+)\s*$/;

export function parseConstraint(text: string): Constraint | null {
  const match = CONSTRAINT.exec(text);
  return match ? { left: match[1], op: match[2] as Constraint["op"], right: match[3] } : null;
}

function holds(op: Constraint["op"], a: number, b: number): boolean {
  switch (op) {
    case "<": return a < b;
    case "<=": return a <= b;
    case ">": return a > b;
    case ">=": return a >= b;
    default: return a !== b;
  }
}

function withinBounds(param: ParamSpec, value: ParamValue): boolean {
  if (param.type === "bool") return true;
  const number = Number(value);
  return (param.low == null || number >= param.low) && (param.high == null || number <= param.high);
}

/** How many combinations the server backtests (grid_combinations): those whose every value
 * is within its bounds and that keep every constraint, the others at their defaults. Counts
 * the unconstrained parameters by multiplying and enumerates only the constrained ones. */
export function validCount(params: ParamSpec[], constraintTexts: string[],
                           values: Record<string, ParamValue[]>): number {
  const byName = new Map(params.map((p) => [p.name, p]));
  const constraints = constraintTexts.map(parseConstraint).filter((c): c is Constraint => c !== null);
  const tied = new Set<string>();
  for (const c of constraints) {
    tied.add(c.left);
    if (byName.has(c.right)) tied.add(c.right);
  }
  const choices = (name: string): ParamValue[] => {
    const param = byName.get(name);
    if (!param) return [];
    const list = values[name] ?? [coerce(param, Number(param.default))];
    return list.filter((v) => withinBounds(param, v));
  };
  let free = 1;
  for (const name of Object.keys(values)) {
    if (!tied.has(name)) free *= choices(name).length;
  }
  if (free === 0) return 0;
  const names = [...tied].filter((name) => byName.has(name));
  const lists = names.map(choices);
  const current: Record<string, number> = {};
  let passing = 0;
  const walk = (i: number): void => {
    if (i === names.length) {
      const ok = constraints.every((c) => {
        const right = c.right in current ? current[c.right] : Number(c.right);
        return holds(c.op, current[c.left], right);
      });
      if (ok) passing += 1;
      return;
    }
    for (const value of lists[i]) {
      current[names[i]] = Number(value);
      walk(i + 1);
    }
  };
  walk(0);
  return free * passing;
}

/** The count line under the ranges: "80 combinations (limit 100,000)". */
export function combinationsText(size: number): string {
  const noun = size === 1 ? "combination" : "combinations";
  return `${size.toLocaleString("en-US")} ${noun} (limit ${MAX_COMBINATIONS.toLocaleString("en-US")})`;
}
