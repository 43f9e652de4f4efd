// The ranked table's and the trades list's columns, declared as data (as gui/table.py does
// for the window): a title, the value to sort by and how to write it.
import { amount, count, money, pct, price, quantity, ratio, signClass, utc } from "../lib/format";
import { numberText } from "./grid";
import type { BacktestTrade, Metric, ResultRow } from "./types";

export interface Column<Row> {
  key: string;
  title: string;
  value: (row: Row) => number | string | null;
  text: (row: Row) => string;
  className?: (row: Row) => string;
  numeric?: boolean;
}

const stat = (row: ResultRow, key: string) => {
  const value = row.stats?.[key];
  return value === undefined ? null : value;
};

/** How a score of this metric reads (research/ranking.py's formats). */
export function scoreText(metric: Metric, value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  switch (metric.key) {
    case "net_pnl":
    case "expectancy":
      return money(value);
    case "max_drawdown":
    case "final_equity":
      return amount(value);
    case "total_return":
      return pct(value, 2, true);
    case "win_rate":
    case "max_drawdown_pct":
      return pct(value, 2);
    default:
      return amount(value, 3);
  }
}

export function resultColumns(metric: Metric, varied: string[], withOos: boolean): Column<ResultRow>[] {
  const columns: Column<ResultRow>[] = [
    { key: "rank", title: "#", value: (r) => r.rank, text: (r) => String(r.rank), numeric: true },
    ...varied.map((name): Column<ResultRow> => ({
      key: `param:${name}`, title: name, numeric: true,
      value: (r) => Number(r.params[name]), text: (r) => numberText(r.params[name]),
    })),
    {
      key: "score", title: withOos ? `${metric.title} IS` : metric.title, numeric: true,
      value: (r) => r.score, text: (r) => scoreText(metric, r.score),
    },
  ];
  if (withOos) {
    columns.push({
      key: "oos_score", title: `${metric.title} OOS`, numeric: true,
      value: (r) => r.oos_score ?? null, text: (r) => scoreText(metric, r.oos_score),
      className: (r) => signClass(r.oos_score ?? null),
    });
  }
  // with an in-sample split, a row's stats are its in-sample backtest's (the equity curve
  // beside the table is the whole file's): the titles say so
  const part = withOos ? " IS" : "";
  columns.push(
    { key: "total_return_pct", title: `Return${part}`, numeric: true, value: (r) => stat(r, "total_return_pct"),
      text: (r) => pct(stat(r, "total_return_pct"), 2, true),
      className: (r) => signClass(stat(r, "total_return_pct")) },
    { key: "net_pnl", title: `Net P&L${part}`, numeric: true, value: (r) => stat(r, "net_pnl"),
      text: (r) => money(stat(r, "net_pnl")), className: (r) => signClass(stat(r, "net_pnl")) },
    { key: "total_trades", title: `Fills${part}`, numeric: true, value: (r) => stat(r, "total_trades"),
      text: (r) => count(stat(r, "total_trades")) },
    { key: "win_rate", title: `Win rate${part}`, numeric: true, value: (r) => stat(r, "win_rate"),
      text: (r) => pct(stat(r, "win_rate")) },
    { key: "max_drawdown_pct", title: `Max DD${part}`, numeric: true, value: (r) => stat(r, "max_drawdown_pct"),
      text: (r) => pct(stat(r, "max_drawdown_pct"), 2) },
    { key: "sharpe_ratio", title: `Sharpe${part}`, numeric: true, value: (r) => stat(r, "sharpe_ratio"),
      text: (r) => ratio(stat(r, "sharpe_ratio")) },
    { key: "profit_factor", title: `PF${part}`, numeric: true, value: (r) => stat(r, "profit_factor"),
      text: (r) => ratio(stat(r, "profit_factor")) },
  );
  return columns;
}

export type Direction = "ascending" | "descending";

/** Rows ordered by a column; rows without a value last either way, ties in rank order. */
export function sortRows<Row extends { rank: number }>(rows: Row[], column: Column<Row>,
                                                      direction: Direction): Row[] {
  const sign = direction === "ascending" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = column.value(a);
    const y = column.value(b);
    const xMissing = x === null || (typeof x === "number" && !Number.isFinite(x));
    const yMissing = y === null || (typeof y === "number" && !Number.isFinite(y));
    if (xMissing || yMissing) return xMissing === yMissing ? a.rank - b.rank : xMissing ? 1 : -1;
    if (x === y) return a.rank - b.rank;
    return (x < y ? -1 : 1) * sign;
  });
}

/** A fill's time as its bar's: 2019-03-25 06:00, seconds only when the bars have them. */
export function fillTime(seconds: number): string {
  const text = utc(seconds, false);
  return text.endsWith(":00") ? text.slice(0, -3) : text;
}

export const TRADE_COLUMNS: Column<BacktestTrade & { rank: number }>[] = [
  { key: "timestamp", title: "Time (UTC)", value: (t) => t.timestamp, text: (t) => fillTime(t.timestamp) },
  { key: "action", title: "Side", value: (t) => t.action, text: (t) => t.action,
    className: (t) => (t.action === "BUY" ? "buy" : "sell") },
  { key: "price", title: "Price", numeric: true, value: (t) => t.price, text: (t) => price(t.price) },
  { key: "profit_loss", title: "Realised P&L", numeric: true, value: (t) => t.profit_loss,
    text: (t) => money(t.profit_loss), className: (t) => signClass(t.profit_loss) },
  { key: "quantity", title: "Qty", numeric: true, value: (t) => t.quantity, text: (t) => quantity(t.quantity) },
  { key: "fee", title: "Fee", numeric: true, value: (t) => t.fee, text: (t) => amount(t.fee) },
  { key: "position_size", title: "Position", numeric: true, value: (t) => t.position_size,
    text: (t) => quantity(t.position_size) },
];
