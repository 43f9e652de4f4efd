import { describe, expect, it } from "vitest";
import type { AvailableStrategy } from "../lib/types";
import { type FormState, jobRequest } from "./JobForm";

const sma: AvailableStrategy = {
  name: "SMA_Crossover", description: "", constraints: [], timeframes: [],
  params: [{ name: "fast", type: "int", default: 10, low: 2, high: 500, step: 1 }],
};
const form = (walkForward: string): FormState => ({
  dataFile: "BTCUSD-1h-sample.csv", upload: null, strategy: "SMA_Crossover",
  rows: { fast: { from: "5", to: "15", step: "5" } }, metric: "sharpe_ratio", inSample: "0.7",
  walkForward, fee: "0.1", random: "",
});

describe("the job's walk-forward folds", () => {
  it("sends the folds typed, none when the field is empty", () => {
    expect(jobRequest(form("3"), sma)).toMatchObject({ job: { walk_forward: 3, in_sample: 0.7 } });
    expect(jobRequest(form(""), sma)).toMatchObject({ job: { walk_forward: 0 } });
  });

  it("says what to fix for folds the optimiser does not take", () => {
    for (const text of ["51", "-1", "2.5"]) {
      expect(jobRequest(form(text), sma)).toEqual({ problem: "walk-forward folds must be a whole number from 0 (none) to 50" });
    }
  });
});
