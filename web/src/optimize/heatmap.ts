// The heatmap's data: the ranking metric over two parameters (gui/optimization/helpers.py
// heatmap_grid) and the desktop's colour scale, red through the chart's neutral to green
// (gui/optimization/heatmap.py), reversed for a metric where lower ranks first.
import type { ParamValue, ResultRow } from "./types";

export interface HeatCell {
  score: number;
  rank: number; // the best-ranked row in the cell: clicking the cell selects it
}

export interface HeatGrid {
  xs: ParamValue[];
  ys: ParamValue[];
  /** cells[j][i]: y index j, x index i; null where no result has that pair */
  cells: (HeatCell | null)[][];
  low: number;
  high: number;
}

const order = (a: ParamValue, b: ParamValue) => Number(a) - Number(b);

/** The grid's parameters whose value differs between rows (all of them if none does): the
 * ranked table's columns and the heatmap's axes. */
export function variedParams(results: ResultRow[]): string[] {
  if (!results.length) return [];
  const names = Object.keys(results[0].params);
  const varied = names.filter((n) => new Set(results.map((r) => Number(r.params[n]))).size > 1);
  return varied.length ? varied : names.filter((n) => n !== "quantity");
}

/** Scores over x and y: the other parameters held at `anchor` (the best row's), or with
 * anchor null the best score of every row in the cell, whatever its others (a random search
 * rarely shares the best row's other values). Rows come in rank order, best first. */
export function heatmapGrid(results: ResultRow[], x: string, y: string,
                            anchor: Record<string, ParamValue> | null): HeatGrid {
  const others = anchor ? Object.keys(anchor).filter((n) => n !== x && n !== y) : [];
  const xs = [...new Map(results.map((r) => [Number(r.params[x]), r.params[x]])).values()].sort(order);
  const ys = [...new Map(results.map((r) => [Number(r.params[y]), r.params[y]])).values()].sort(order);
  const xAt = new Map(xs.map((v, i) => [Number(v), i]));
  const yAt = new Map(ys.map((v, i) => [Number(v), i]));
  const cells: (HeatCell | null)[][] = ys.map(() => xs.map(() => null));
  let low = Number.POSITIVE_INFINITY;
  let high = Number.NEGATIVE_INFINITY;
  for (const row of results) {
    if (row.score === null || row.score === undefined || !Number.isFinite(row.score)) continue;
    if (anchor && !others.every((n) => Number(row.params[n]) === Number(anchor[n]))) continue;
    const i = xAt.get(Number(row.params[x]));
    const j = yAt.get(Number(row.params[y]));
    if (i === undefined || j === undefined || cells[j][i]) continue; // ranked: the first is best
    cells[j][i] = { score: row.score, rank: row.rank };
    low = Math.min(low, row.score);
    high = Math.max(high, row.score);
  }
  if (low === high) {
    low -= 1;
    high += 1;
  }
  return { xs, ys, cells, low, high };
}

type Rgb = [number, number, number];

function rgb(hex: string): Rgb {
  const n = Number.parseInt(hex.replace("#", ""), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The desktop's stops (gui/theme.py DARK: down, neutral, up). */
export const SCALE = { down: "#ef5350", neutral: "#2a2e39", up: "#26a69a" };

/** The cell colour of `score` on low..high: down at the worst end, up at the best. */
export function cellColour(score: number, low: number, high: number, lowerIsBetter: boolean): string {
  let t = high > low ? (score - low) / (high - low) : 0.5;
  t = Math.min(1, Math.max(0, t));
  if (lowerIsBetter) t = 1 - t;
  const [from, to, u] = t < 0.5
    ? [rgb(SCALE.down), rgb(SCALE.neutral), t / 0.5]
    : [rgb(SCALE.neutral), rgb(SCALE.up), (t - 0.5) / 0.5];
  const mix = from.map((c, k) => Math.round(c + (to[k] - c) * u));
  return `rgb(${mix[0]}, ${mix[1]}, ${mix[2]})`;
}

/** A score short enough for its cell: 4.05, -1.45, 987, 9.9k, 12k. */
export function cellText(score: number): string {
  const size = Math.abs(score);
  if (size >= 9999.5) return `${(score / 1000).toFixed(0)}k`;
  if (size >= 999.5) return `${(score / 1000).toFixed(1)}k`;
  if (size >= 99.5) return score.toFixed(0);
  return score.toFixed(2);
}
