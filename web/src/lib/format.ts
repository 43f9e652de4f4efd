// Numbers as the desktop window writes them (gui/table.py, gui/panels.py), so a figure reads the
// same in both views.

/** ``value`` with ``decimals`` decimals and thousands separators, rounded as Python's
 * f"{value:,.2f}" rounds: by the double's exact value (2.675 is 2.67499999… so 2.67), and an
 * exact half to even (0.125 → 0.12). Intl.NumberFormat rounds the decimal text instead
 * (2.675 → 2.68), so a figure would read differently in the window and the page. */
function fixed(value: number, decimals: number): string {
  let text = value.toFixed(decimals);  // exact value; an exact tie goes up (away from zero)
  // A tie is exact only when the double's decimal expansion (toFixed writes it exactly) is
  // a 5 and then zeros past the last decimal kept; multiplying by 10^decimals would round.
  const digits = Math.abs(value).toFixed(Math.min(100, decimals + 40));
  const rest = digits.slice(digits.indexOf(".") + 1 + decimals);
  if (/^50*$/.test(rest)) {
    const kept = digits.slice(0, digits.indexOf(".") + 1 + decimals).replace(/\.$/, "");
    const last = Number(kept[kept.length - 1]);
    if (last % 2 === 0) text = (value < 0 ? "-" : "") + kept;  // down to the even neighbour
  }
  const negative = text.startsWith("-");
  const [whole, fraction] = (negative ? text.slice(1) : text).split(".");
  const groupedWhole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return (negative ? "-" : "") + groupedWhole + (fraction ? `.${fraction}` : "");
}

const DASH = "—";

function missing(value: number | null | undefined): value is null | undefined {
  return value === null || value === undefined || !Number.isFinite(value);
}

/** Money with its sign: +1,234.56, -12.30, and 0.00 for nothing (the KPI tiles, P&L cells). */
export function money(value: number | null | undefined): string {
  if (missing(value)) return DASH;
  if (value === 0) return "0.00";
  return (value > 0 ? "+" : "") + fixed(value, 2);
}

/** An amount without a forced sign: 1,234.56 (fees, capital, drawdown). */
export function amount(value: number | null | undefined, decimals = 2): string {
  if (missing(value)) return DASH;
  return fixed(value, decimals);
}

/** A percentage: pct(1.234) is "1.2%", signed(…) "+1.23%". */
export function pct(value: number | null | undefined, decimals = 1, signed = false): string {
  if (missing(value)) return DASH;
  return (signed && value >= 0 ? "+" : "") + fixed(value, decimals) + "%";
}

/** A whole count with separators: 12,345. */
export function count(value: number | null | undefined): string {
  if (missing(value)) return DASH;
  return fixed(Math.trunc(value), 0);
}

/** A ratio with two decimals, or — when there is none. */
export function ratio(value: number | null | undefined): string {
  return missing(value) ? DASH : fixed(value, 2);
}

/** Five significant digits, at least two decimals and at most eight: 63,812.45, 2.5123,
 * 0.00001234 (gui/table.py's price column). */
export function price(value: number | null | undefined): string {
  if (missing(value)) return DASH;
  const magnitude = value === 0 ? 0 : Math.floor(Math.log10(Math.abs(value)));
  return fixed(value, Math.min(8, Math.max(2, 4 - magnitude)));
}

/** Up to eight decimals without trailing zeros: 1, 0.5, 0.0012. */
export function quantity(value: number | null | undefined): string {
  if (missing(value)) return DASH;
  const text = fixed(value, 8).replace(/0+$/, "").replace(/\.$/, "");
  return text === "" || text === "-0" ? "0" : text;
}

/** Drawdown as the window shows it: 1,234.56 (2.3%). */
export function drawdown(value: number | null | undefined, percent: number | null | undefined): string {
  const text = amount(value);
  return missing(percent) ? text : `${text} (${fixed(percent, 1)}%)`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Epoch seconds as UTC: 2024-01-01 00:00:05.123 (the blotter's time column). */
export function utc(seconds: number | null | undefined, millis = true): string {
  if (missing(seconds)) return DASH;
  const d = new Date(seconds * 1000);
  const text = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  if (!millis) return text;
  const ms = d.getUTCMilliseconds();
  return `${text}.${ms < 10 ? "00" : ms < 100 ? "0" : ""}${ms}`;
}

/** The CSS class of a signed figure: gain, loss or none. */
export function signClass(value: number | null | undefined): string {
  if (missing(value) || value === 0) return "";
  return value > 0 ? "gain" : "loss";
}

/** The CSS class of a side: buy or sell. */
export function sideClass(action: string): string {
  return action === "BUY" ? "buy" : action === "SELL" ? "sell" : "";
}
