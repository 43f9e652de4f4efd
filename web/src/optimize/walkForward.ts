// A walk-forward search's folds as the page lists them: each fold ranked the grid on one window
// of bars and scored its best parameters on the next (research/optimize.py), as the window's
// Optimisation tab shows them.
import { count } from "../lib/format";
import { scoreText } from "./columns";
import { numberText } from "./grid";
import type { Fold, Metric } from "./types";

/** Bars [start, stop) as "1,000–1,999". */
export function barsText([start, stop]: [number, number]): string {
  return `${count(start)}–${count(stop - 1)}`;
}

/** "fast=12  slow=20": the parameters that vary (all but quantity when none is named). */
export function foldParams(fold: Fold, varied: string[]): string {
  const names = varied.length ? varied : Object.keys(fold.params).filter((n) => n !== "quantity");
  return names.filter((n) => n in fold.params).map((n) => `${n}=${numberText(fold.params[n])}`).join("  ");
}

/** One line: the folds' out-of-sample scores against their in-sample ones. */
export function walkForwardSummary(folds: Fold[], metric: Metric): string {
  const plural = folds.length === 1 ? "" : "s";
  const outs = folds.map((f) => f.out_of_sample_score).filter((v): v is number => v !== null);
  const ins = folds.map((f) => f.in_sample_score).filter((v): v is number => v !== null);
  if (!outs.length) return `Walk-forward, ${folds.length} fold${plural}: no out-of-sample score (too few trades in the windows).`;
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const sets = new Set(folds.map((f) => JSON.stringify(Object.entries(f.params).sort()))).size;
  return `Walk-forward, ${folds.length} fold${plural}: each ranked on one window and scored its best on the next. `
    + `${metric.title} out of sample ${scoreText(metric, mean(outs))} on average, against `
    + `${ins.length ? scoreText(metric, mean(ins)) : "—"} in sample; ${sets} different parameter set${sets === 1 ? "" : "s"} chosen.`;
}
