// The history's pages and its CSV: alerts are paged by id (before_id the oldest shown), and
// both tables export what is loaded as a CSV a spreadsheet opens.
import type { Action, Alert } from "./types";

/** Rows the history reads per page. */
export const HISTORY_PAGE = 100;

/** One CSV field: quoted when it holds a comma, a quote or a line break. */
function field(value: unknown): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv<T>(rows: readonly T[], columns: ReadonlyArray<keyof T & string>): string {
  const lines = [columns.join(",")];
  for (const row of rows) lines.push(columns.map((c) => field(row[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

export const ALERT_COLUMNS: ReadonlyArray<keyof Alert & string> = [
  "id", "time", "rule_id", "rule_name", "severity", "coin", "strategy_id", "price", "value", "threshold",
  "message", "acknowledged", "action_id", "throttled",
];

export const ACTION_COLUMNS: ReadonlyArray<keyof Action & string> = [
  "id", "created", "alert_id", "rule_id", "type", "params", "reason", "status", "auto", "decided",
  "decided_by", "result",
];

/** The next page's query: before the oldest alert held, or the newest page. */
export function olderQuery(alerts: readonly Alert[], severity: string): Record<string, string | number> {
  const query: Record<string, string | number> = { limit: HISTORY_PAGE };
  if (alerts.length) query.before_id = Math.min(...alerts.map((a) => a.id));
  if (severity) query.severity = severity;
  return query;
}
