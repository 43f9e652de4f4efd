import { describe, expect, it } from "vitest";
import {
  analyzeRequest, barAt, breakoutMarkers, chartTimeframe, DEFAULT_FORM, levelLines,
  ordinal, reportHeading, suggestionRow, timeframeChoices, timeframeName, timeframeRow, timeframeSeconds,
  toggleTimeframe, trendLinePoints,
} from "./report";
import type { Suggestion, TimeframeReport, TrendReport } from "./types";

const FOUR_HOURS: TimeframeReport = {
  timeframe: "4h", seconds: 14_400, bars: 4_380, ok: true, message: "", time: 1_735_675_200,
  direction: "up", strength: "strong",
  adx: { period: 14, adx: 34.1, plus_di: 28, minus_di: 12.3 },
  regression: { bars: 100, slope_pct_per_bar: 0.12, t_stat: 12.3, r2: 0.81 },
  moving_averages: {
    periods: [20, 50, 200], values: [64000.1, 62000.2, null], alignment: "bullish",
    last_cross: { kind: "golden", time: 1_735_000_000, bars_ago: 42, fast: 50, slow: 200 },
  },
  volatility: { regime: "high", atr_pct: 1.9, atr_percentile: 88, realised_vol: 0.64, realised_vol_percentile: 85, window: 30 },
  character: { label: "mean_reverting", hurst: 0.38, variance_ratio: 0.71, lag: 4, z: -3.1, p_value: 0.0004, confidence: 0.95, bars: 500 },
  levels: [
    { kind: "resistance", price: 71_200, low: 71_050, high: 71_350, touches: 4, last_touch: 1_735_000_000, distance_pct: 3.2 },
    { kind: "support", price: 63_000, low: 62_900, high: 63_100, touches: 3, last_touch: 1_734_000_000, distance_pct: 1.75 },
    { kind: "support", price: 60_000, low: 59_800, high: 60_200, touches: 5, last_touch: 1_733_000_000, distance_pct: 6.4 },
  ],
  breakouts: [
    { time: 1_735_100_000, direction: "up", level: 69_000, close: 69_550 },
    { time: 1_700_000_000, direction: "down", level: 50_000, close: 49_000 },
  ],
  trend_line: { time: [0, 400], price: [100, 400], channel_pct: 2.5 },
  summary: "4h: up-trend, strong (ADX 34), high volatility (88th percentile), resistance at 71,200 touched 4 times",
};

const SHORT: TimeframeReport = {
  timeframe: "1w", seconds: 604_800, bars: 12, ok: false, message: "1w: 12 bars, the analysis needs at least 60",
  summary: "1w: too few bars (12 of 60)",
};

function report(timeframes: TimeframeReport[]): TrendReport {
  return {
    source: "BTCUSD-1h-sample.csv", coin: null, bars: 17_520, interval: 3_600, first: 1_672_531_200,
    last: 1_735_686_000, price: 64_123.5, warnings: [], summary: timeframes.map((tf) => tf.summary),
    timeframes, suggestions: null,
  };
}

describe("timeframes", () => {
  it("names bar sizes as the analyzer does", () => {
    expect([60, 900, 3_600, 14_400, 86_400, 604_800].map(timeframeName)).toEqual(["1m", "15m", "1h", "4h", "1d", "1w"]);
    expect(timeframeSeconds("4h")).toBe(14_400);
    expect(timeframeSeconds("1w")).toBe(604_800);
    expect(timeframeSeconds("four hours")).toBeNull();
  });

  it("offers the input's own size and each coarser one that is a whole number of its bars", () => {
    expect(timeframeChoices(3_600)).toEqual(["1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"]);
    expect(timeframeChoices(900)).toEqual(["15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"]);
    expect(timeframeChoices(86_400)).toEqual(["1d", "3d", "1w"]);
    // 13 minutes: no standard size is a whole number of them but its own
    expect(timeframeChoices(780)).toEqual(["13m"]);
    expect(timeframeChoices(420)).toEqual(["7m", "1w"]);  // a week is 1,440 of them
  });

  it("keeps the ticked timeframes finest first whatever the click order", () => {
    const choices = ["1h", "4h", "1d", "1w"];
    expect(toggleTimeframe(["1d"], "1h", choices)).toEqual(["1h", "1d"]);
    expect(toggleTimeframe(["1h", "1d"], "1h", choices)).toEqual(["1d"]);
  });
});

describe("the analyze request", () => {
  it("names the server file, the ticked timeframes and asks for the chart's bars", () => {
    const form = { ...DEFAULT_FORM, dataFile: "BTCUSD-1h-sample.csv", timeframes: ["1h", "4h"], suggest: false };
    expect(analyzeRequest(form, null)).toEqual({
      request: {
        data_file: "BTCUSD-1h-sample.csv", timeframes: ["1h", "4h"], suggest: false, suggest_bars: 100_000,
        folds: 4, coin: null, candles: 2000,
      },
    });
  });

  it("sends no file name with an upload and the suggestion settings when asked", () => {
    const upload = new File(["x"], "eth-1m.csv");
    const form = { ...DEFAULT_FORM, upload, dataFile: "ignored.csv", suggestBars: "2000", folds: "2" };
    const made = analyzeRequest(form, "ETH");
    expect(made).toEqual({
      request: { timeframes: null, suggest: true, suggest_bars: 2000, folds: 2, coin: "ETH", candles: 2000 },
    });
  });

  it("says what to fix first", () => {
    expect(analyzeRequest({ ...DEFAULT_FORM }, null)).toEqual({ problem: "choose a data file or upload one" });
    const file = { ...DEFAULT_FORM, dataFile: "a.csv" };
    expect(analyzeRequest({ ...file, timeframes: [] }, null)).toEqual({ problem: "tick at least one timeframe" });
    expect(analyzeRequest({ ...file, suggestBars: "10" }, null)).toEqual({
      problem: "bars for suggestions must be a whole number of at least 100" });
    expect(analyzeRequest({ ...file, folds: "2.5" }, null)).toEqual({ problem: "folds must be a whole number from 1 to 20" });
    // without suggestions their settings do not matter
    expect("request" in analyzeRequest({ ...file, suggest: false, folds: "" }, null)).toBe(true);
  });
});

describe("the timeframe table", () => {
  it("writes each figure with the number behind the label", () => {
    const row = timeframeRow(FOUR_HOURS);
    expect(row).toMatchObject({
      timeframe: "4h", bars: "4,380", ok: true, direction: "up", directionClass: "gain",
      strength: "strong 34.1", slope: "+0.120% t 12.3",
      averages: "bullish, golden 42 ago",
      volatility: "high 1.90% (88th)",
      character: "mean-reverting H 0.38",
      support: "63,000.00 ×3",  // the nearest support, not the strongest
      resistance: "71,200.00 ×4",
    });
    expect(row.strengthTitle).toBe("ADX(14) 34.1, +DI 28.0, −DI 12.3");
    expect(row.slopeTitle).toContain("R² 0.81");
    expect(row.averagesTitle).toContain("SMA 200 —");
    expect(row.volatilityTitle).toContain("realised volatility 64.0% a year (30 bars), 85th percentile");
    expect(row.characterTitle).toContain("variance ratio 0.71 at lag 4 (z -3.10, p 0.0004; 95% confidence)");
    expect(row.supportTitle).toBe("support 63,000.00 (zone 62,900.00–63,100.00), 1.75% below the price, " +
      "touched 3 times, last at 2024-12-12 10:40:00 UTC");
  });

  it("keeps a timeframe with too few bars, with the analyzer's message and no figures", () => {
    const row = timeframeRow(SHORT);
    expect(row).toMatchObject({ timeframe: "1w", bars: "12", ok: false, message: SHORT.message, direction: "", support: "" });
  });

  it("heads the report with its source, bars, span and last price", () => {
    expect(reportHeading(report([FOUR_HOURS]))).toBe(
      "BTCUSD-1h-sample.csv · 17,520 bars of 1h · 2023-01-01 00:00 → 2024-12-31 23:00 UTC · last 64,123.50");
  });

  it("orders percentiles as a trader reads them", () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 88, 100].map(ordinal)).toEqual(
      ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "88th", "100th"]);
    expect(ordinal(null)).toBe("—");
  });
});

describe("the chart", () => {
  it("draws a line per level, titled with its side and touches", () => {
    expect(levelLines(FOUR_HOURS.levels)).toEqual([
      { price: 71_200, kind: "resistance", title: "R ×4" },
      { price: 63_000, kind: "support", title: "S ×3" },
      { price: 60_000, kind: "support", title: "S ×5" },
    ]);
    expect(levelLines(undefined)).toEqual([]);
  });

  it("follows the log-price fit over its own bars, with the channel around it", () => {
    const { middle, upper, lower } = trendLinePoints(FOUR_HOURS.trend_line, [-100, 0, 100, 200, 300, 400, 500]);
    expect(middle.map((p) => p.time)).toEqual([0, 100, 200, 300, 400]);  // only the bars it spans
    expect(middle[2].value).toBeCloseTo(200, 9);  // geometric midpoint of 100 and 400
    expect(middle[4].value).toBeCloseTo(400, 9);
    expect(upper[2].value).toBeCloseTo(205, 9);   // ±2 standard errors of the log: × and ÷ 1.025
    expect(lower[2].value).toBeCloseTo(200 / 1.025, 9);
  });

  it("spaces the fit by bars, not by time, across a gap in the bars", () => {
    // five bars with a weekend-like gap after the second: the middle bar is the fit's midpoint
    const { middle } = trendLinePoints({ time: [0, 1_000], price: [100, 400], channel_pct: null }, [0, 10, 900, 950, 1_000]);
    expect(middle[2].value).toBeCloseTo(200, 9);
    // the chart without the fit's first bar: its two ends, placed by time
    expect(trendLinePoints({ time: [0, 1_000], price: [100, 400], channel_pct: null }, [10, 1_000]).middle.map((p) => p.time))
      .toEqual([0, 1_000]);
  });

  it("draws no line for a missing or degenerate fit", () => {
    expect(trendLinePoints(null, [1, 2]).middle).toEqual([]);
    expect(trendLinePoints({ time: [5, 5], price: [1, 2], channel_pct: 1 }, [5]).middle).toEqual([]);
    expect(trendLinePoints({ time: [0, 10], price: [1, 2], channel_pct: null }, [0, 10]).upper).toEqual([]);
  });

  it("puts a breakout's marker on the bar holding it, skipping those before the chart", () => {
    const times = [1_735_000_000, 1_735_014_400, 1_735_028_800, 1_735_043_200, 1_735_057_600, 1_735_072_000, 1_735_086_400, 1_735_100_800];
    expect(barAt(times, 1_735_100_000)).toBe(1_735_086_400);
    expect(barAt(times, 1_735_000_000)).toBe(1_735_000_000);
    expect(barAt(times, 1)).toBeNull();
    expect(breakoutMarkers(FOUR_HOURS.breakouts, times)).toEqual([
      { time: 1_735_086_400, direction: "up", text: "↑ 69,000.00" },
    ]);
    // newest first in the report; the chart wants oldest first, and labels only the newest
    const two = [{ time: 1_735_100_000, direction: "down" as const, level: 70_000, close: 69_000 },
      { time: 1_735_020_000, direction: "up" as const, level: 68_000, close: 68_500 }];
    expect(breakoutMarkers(two, times)).toEqual([
      { time: 1_735_014_400, direction: "up", text: "" },
      { time: 1_735_086_400, direction: "down", text: "↓ 70,000.00" },
    ]);
  });

  it("opens on the timeframe asked for when it has bars, else the finest drawable", () => {
    const withBars = (tf: TimeframeReport, n: number): TimeframeReport => ({
      ...tf, candles: { time: Array.from({ length: n }, (_, i) => i), open: [], high: [], low: [], close: [], volume: [] },
    });
    const one = withBars({ ...FOUR_HOURS, timeframe: "1h" }, 10);
    const four = withBars(FOUR_HOURS, 10);
    expect(chartTimeframe(report([one, four, SHORT]), "4h")).toBe("4h");
    expect(chartTimeframe(report([one, four, SHORT]), "1w")).toBe("1h");
    expect(chartTimeframe(report([FOUR_HOURS]), null)).toBeNull();  // no candles asked for
    expect(chartTimeframe(null, "1h")).toBeNull();
  });
});

describe("the suggestions", () => {
  it("shows the scores, the out-of-sample return against holding, trades and fees", () => {
    const item: Suggestion = {
      rank: 1, strategy: "SMA_Crossover", params: { fast: 10, slow: 40 }, timeframe: "1h",
      in_sample_score: 1.2, out_of_sample_score: 0.8, oos_return_pct: 6.1, trades: 42, fees: 12.3,
      hold_return_pct: 4.5, beats_hold: true, beats_cash: true,
    };
    expect(suggestionRow(item)).toEqual({
      rank: 1, strategy: "SMA_Crossover", params: "fast=10 slow=40", timeframe: "1h", inSample: "1.20",
      outOfSample: "0.80", oosReturn: "+6.10%", oosReturnClass: "gain", trades: "42", fees: "12.30",
      hold: "+4.50%", versusHold: "+1.60 pts", versusHoldClass: "gain",
    });
    expect(suggestionRow({ ...item, oos_return_pct: null }).versusHold).toBe("—");
    expect(suggestionRow({ ...item, params: { period: 36, quantity: 0 } }).params).toBe("period=36");
    expect(suggestionRow({ ...item, params: { period: 36, quantity: 0.5 } }).params).toBe("period=36 quantity=0.5");
  });
});
