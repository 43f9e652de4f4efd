import { describe, expect, it } from "vitest";
import type { ParamSpec } from "../lib/types";
import {
  combinationsText, defaultRange, gridValues, planGrid, planRow, searchRange, validCount,
} from "./grid";

// the built-ins' declarations as GET /api/strategies/available gives them
const int = (name: string, def: number, low: number, high: number, step: number | null = 1): ParamSpec =>
  ({ name, type: "int", default: def, low, high, step });
const float = (name: string, def: number, low: number, high: number, step: number | null): ParamSpec =>
  ({ name, type: "float", default: def, low, high, step });
const quantity = float("quantity", 0, 0, 1e9, null);
const SMA = { params: [int("fast", 10, 2, 200), int("slow", 30, 5, 500), quantity], constraints: ["fast < slow"] };
const MACD = {
  params: [int("fast", 12, 2, 500), int("slow", 26, 3, 1000), int("signal", 9, 1, 500), quantity],
  constraints: ["fast < slow"],
};
const RSI = {
  params: [int("period", 14, 2, 500), float("oversold", 30, 0, 100, 5), float("overbought", 70, 0, 100, 5), quantity],
  constraints: ["oversold < overbought"],
};
const MOMENTUM = { params: [int("period", 20, 1, 1000), float("threshold", 0, 0, 100, 0.1), quantity], constraints: [] };

function defaults(spec: { params: ParamSpec[] }) {
  return Object.fromEntries(spec.params.map((p) => [p.name, defaultRange(p)]));
}

describe("the default search", () => {
  it("spans half to twice each default on a multiple of its step, as search_range does", () => {
    expect(searchRange(SMA.params[0])).toEqual([6, 20, 2]);
    expect(searchRange(SMA.params[1])).toEqual([15, 60, 5]);
    expect(searchRange(RSI.params[2])).toEqual([40, 100, 10]);
    expect(searchRange(MACD.params[1])).toEqual([16, 51, 5]);
  });

  it("starts from a default of zero and climbs nine steps", () => {
    expect(searchRange(MOMENTUM.params[1])).toEqual([0, 0.9, 0.1]);
  });

  it("never searches the order size", () => {
    expect(defaultRange(quantity)).toEqual({ from: "", to: "", step: "" });
  });

  it.each([
    ["SMA_Crossover", SMA, 80, 76],
    ["MACD", MACD, 560, 511],
    ["RSI", RSI, 490, 427],
    ["Momentum", MOMENTUM, 80, 80],
  ])("counts %s's prefilled rows as the server's default_grid: %i, %i after its rules",
    (_name, spec, size, valid) => {
      const plan = planGrid(spec.params, defaults(spec));
      expect(plan.problems).toEqual([]);
      expect(Object.values(plan.values).reduce((n, v) => n * v.length, 1)).toBe(size);
      expect(validCount(spec.params, spec.constraints, plan.values)).toBe(valid);
    });

  it("sends an empty grid when every row is empty, and counts the default search", () => {
    const plan = planGrid(SMA.params, {});
    expect(plan.isDefault).toBe(true);
    expect(plan.request).toEqual({});
    expect(plan.values.fast).toHaveLength(8);
    expect(plan.values.slow).toHaveLength(10);
    expect(validCount(SMA.params, SMA.constraints, plan.values)).toBe(76);
  });
});

describe("a typed range", () => {
  it("includes its high end when it falls on a step", () => {
    expect(gridValues(5, 50, 5)).toHaveLength(10);
    expect(gridValues(5, 52, 5)).toHaveLength(10);
    expect(gridValues(0.1, 0.5, 0.1)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(gridValues(1, 2, 0.3)).toEqual([1, 1.3, 1.6, 1.9]);
  });

  it("is sent as lo:hi:step", () => {
    expect(planRow(SMA.params[0], { from: "5", to: "50", step: "5" }))
      .toEqual({ kind: "values", values: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50], request: "5:50:5" });
  });

  it("takes one value when only from is given", () => {
    expect(planRow(SMA.params[0], { from: "12", to: "", step: "" }))
      .toEqual({ kind: "values", values: [12], request: [12] });
  });

  it("takes the declared step when none is typed", () => {
    const plan = planRow(SMA.params[0], { from: "5", to: "8", step: "" });
    expect(plan).toEqual({ kind: "values", values: [5, 6, 7, 8], request: "5:8:1" });
  });

  it("refuses a low end above the high end, a zero step and a fraction of a whole parameter", () => {
    expect(planRow(SMA.params[0], { from: "9", to: "5", step: "1" }).kind).toBe("error");
    expect(planRow(SMA.params[0], { from: "5", to: "9", step: "0" }).kind).toBe("error");
    const fraction = planRow(SMA.params[0], { from: "5", to: "9", step: "0.5" });
    expect(fraction).toEqual({ kind: "error", message: "grid of fast: fast must be a whole number (got 5.5)" });
    expect(planRow(SMA.params[0], { from: "x", to: "9", step: "1" }).kind).toBe("error");
  });

  it("holds an empty row at its default", () => {
    const plan = planGrid(SMA.params, { fast: { from: "5", to: "50", step: "5" } });
    expect(plan.request).toEqual({ fast: "5:50:5" });
    expect(plan.isDefault).toBe(false);
    // slow held at 30: fast 5..25 pass fast < slow
    expect(validCount(SMA.params, SMA.constraints, plan.values)).toBe(5);
  });

  it("drops values outside the declared bounds, as validation does", () => {
    const plan = planGrid(SMA.params, { fast: { from: "1", to: "3", step: "1" } });
    expect(validCount(SMA.params, SMA.constraints, plan.values)).toBe(2);
  });

  it("counts a grid over the limit without enumerating it", () => {
    const plan = planGrid(SMA.params, {
      fast: { from: "2", to: "200", step: "1" }, slow: { from: "5", to: "500", step: "1" },
    });
    expect(Object.values(plan.values).reduce((n, v) => n * v.length, 1)).toBe(199 * 496);
  });
});

describe("the count line", () => {
  it("reads as the spec shows it", () => {
    expect(combinationsText(80)).toBe("80 combinations (limit 100,000)");
    expect(combinationsText(1)).toBe("1 combination (limit 100,000)");
    expect(combinationsText(123456)).toBe("123,456 combinations (limit 100,000)");
  });
});
