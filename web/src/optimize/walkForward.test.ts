import { describe, expect, it } from "vitest";
import { METRICS, type Fold } from "./types";
import { barsText, foldParams, walkForwardSummary } from "./walkForward";

const sharpe = METRICS[0];
const fold = (n: number, fast: number, inScore: number | null, outScore: number | null): Fold => ({
  fold: n, in_sample_bars: [(n - 1) * 1000, n * 1000], out_of_sample_bars: [n * 1000, (n + 1) * 1000],
  params: { fast, slow: 20, quantity: 0 }, in_sample_score: inScore, out_of_sample_score: outScore,
});

describe("walk-forward folds", () => {
  it("writes a fold's bars as the last included index and its varied parameters", () => {
    expect(barsText([1000, 2000])).toBe("1,000–1,999");
    expect(foldParams(fold(1, 12, 1, 1), ["fast", "slow"])).toBe("fast=12  slow=20");
    expect(foldParams(fold(1, 12, 1, 1), [])).toBe("fast=12  slow=20");  // quantity is no choice
  });

  it("sums the folds up: the mean scores out and in, and how many parameter sets were chosen", () => {
    const folds = [fold(1, 12, 5.0, 3.0), fold(2, 6, 4.0, 1.0), fold(3, 12, 3.0, null)];
    expect(walkForwardSummary(folds, sharpe)).toBe(
      "Walk-forward, 3 folds: each ranked on one window and scored its best on the next. "
      + "Sharpe ratio out of sample 2.000 on average, against 4.000 in sample; 2 different parameter sets chosen.");
    expect(walkForwardSummary([fold(1, 5, 2, null)], sharpe))
      .toBe("Walk-forward, 1 fold: no out-of-sample score (too few trades in the windows).");
  });
});
