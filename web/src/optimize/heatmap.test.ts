import { describe, expect, it } from "vitest";
import { cellColour, cellText, heatmapGrid, variedParams } from "./heatmap";
import { barInterval, barTimeframe, coinFromFile, timeframeFromFile, uniqueId } from "../lib/live";
import type { ResultRow, RowStats } from "./types";

const row = (rank: number, fast: number, slow: number, signal: number, score: number | null): ResultRow =>
  ({ rank, params: { fast, slow, signal, quantity: 0 }, score, stats: {} as RowStats });

const results = [
  row(1, 10, 30, 9, 4.0),
  row(2, 12, 30, 9, 3.5),
  row(3, 10, 40, 9, 3.0),
  row(4, 10, 30, 7, 2.5),   // another signal: off the anchored map, best-per-cell's winner
  row(5, 12, 40, 7, 1.0),
  row(6, 12, 40, 9, null),  // no score: an empty cell
];

describe("the heatmap grid", () => {
  it("varies only the parameters that differ between rows", () => {
    expect(variedParams(results)).toEqual(["fast", "slow", "signal"]);
  });

  it("holds the other parameters at the best row's values", () => {
    const grid = heatmapGrid(results, "fast", "slow", results[0].params);
    expect(grid.xs).toEqual([10, 12]);
    expect(grid.ys).toEqual([30, 40]);
    expect(grid.cells[0][0]).toEqual({ score: 4.0, rank: 1 });
    expect(grid.cells[0][1]).toEqual({ score: 3.5, rank: 2 });
    expect(grid.cells[1][0]).toEqual({ score: 3.0, rank: 3 });
    expect(grid.cells[1][1]).toBeNull();
    expect([grid.low, grid.high]).toEqual([3.0, 4.0]);
  });

  it("keeps the best row of each cell without an anchor", () => {
    const grid = heatmapGrid(results, "fast", "slow", null);
    expect(grid.cells[1][1]).toEqual({ score: 1.0, rank: 5 });
    expect(grid.cells[0][0]).toEqual({ score: 4.0, rank: 1 });
  });

  it("widens a flat surface so its one colour is the middle of the scale", () => {
    const grid = heatmapGrid([row(1, 10, 30, 9, 2)], "fast", "slow", null);
    expect([grid.low, grid.high]).toEqual([1, 3]);
    expect(cellColour(2, grid.low, grid.high, false)).toBe("rgb(42, 46, 57)");
  });
});

describe("the colour scale", () => {
  it("runs from the loss colour to the gain colour", () => {
    expect(cellColour(0, 0, 10, false)).toBe("rgb(239, 83, 80)");
    expect(cellColour(10, 0, 10, false)).toBe("rgb(38, 166, 154)");
  });

  it("turns round for a metric where lower is better", () => {
    expect(cellColour(0, 0, 10, true)).toBe("rgb(38, 166, 154)");
  });
});

describe("a cell's text", () => {
  it("stays short whatever the metric", () => {
    expect(cellText(4.0532)).toBe("4.05");
    expect(cellText(-1.452)).toBe("-1.45");
    expect(cellText(987.4)).toBe("987");
    expect(cellText(9886.68)).toBe("9.9k");
    expect(cellText(-12345)).toBe("-12k");
  });
});

describe("applying a row to live", () => {
  it("reads the coin from the bar file's name", () => {
    expect(coinFromFile("BTCUSD-1h-sample.csv")).toBe("BTC");
    expect(coinFromFile("upload-1796610549341-ethusdt-1m.csv")).toBe("ETH");
    expect(coinFromFile("SOL-2024.csv")).toBe("SOL");
    expect(coinFromFile("upload-1796610549341-file.csv")).toBe("BTC");
    expect(coinFromFile("")).toBe("BTC");
  });

  it("decides live on bars of the file's interval", () => {
    expect(barTimeframe(barInterval([0, 3600, 7200, 14400, 18000]))).toBe("1h");
    expect(barTimeframe(barInterval([0, 7]))).toBe("tick");
    expect(barTimeframe(barInterval([0]))).toBe("tick");
  });

  it("reads the timeframe a file's name states", () => {
    expect(timeframeFromFile("BTCUSD-1h-sample.csv")).toBe("1h");
    expect(timeframeFromFile("upload-1796610549341-ETHUSDT-15m-2024-01.zip")).toBe("15m");
    expect(timeframeFromFile("btc.csv")).toBeNull();
    expect(timeframeFromFile("btc-7h.csv")).toBeNull();
  });

  it("picks the first free strategy id", () => {
    expect(uniqueId("BTC_RSI", new Set())).toBe("BTC_RSI");
    expect(uniqueId("BTC_RSI", new Set(["BTC_RSI", "BTC_RSI_2"]))).toBe("BTC_RSI_3");
  });
});
