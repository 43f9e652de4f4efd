// The trend report as the page shows it: the timeframes a trader may tick, the request the
// form stands for, one table row per timeframe, the chart's levels, trend line and breakout
// markers, and the suggestions' rows. Pure functions, so vitest checks them without a browser.
import { amount, count, pct, price, ratio, utc } from "../lib/format";
import { paramsText } from "../lib/params";
import type {
  AnalyzeRequest, Breakout, Level, ReportCandles, Suggestion, Suggestions, TimeframeReport, TrendLine,
  TrendReport,
} from "./types";

/** Bars per timeframe the page asks for: enough for the chart to show months of 1h bars. */
export const CHART_CANDLES = 2000;
/** The bar sizes the analyzer resamples to (core/types.py INTERVAL_SECONDS). Which of them
 * it picks by default is its own rule: the page sends no timeframes until the trader ticks
 * some, and then shows the ones the report has. */
export const BAR_SIZES: ReadonlyArray<[string, number]> = [
  ["1s", 1], ["5s", 5], ["15s", 15], ["30s", 30], ["1m", 60], ["3m", 180], ["5m", 300], ["15m", 900],
  ["30m", 1_800], ["1h", 3_600], ["2h", 7_200], ["4h", 14_400], ["6h", 21_600], ["8h", 28_800],
  ["12h", 43_200], ["1d", 86_400], ["3d", 259_200], ["1w", 604_800],
];

/** 60 → "1m", 3600 → "1h", 604800 → "1w": the analyzer's name of a bar size. */
export function timeframeName(seconds: number): string {
  if (seconds % 604_800 === 0) return `${seconds / 604_800}w`;
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** "1h" → 3600, or null for a name that is not a bar size. */
export function timeframeSeconds(name: string): number | null {
  const match = /^(\d+)([smhdw])$/.exec(name.trim());
  if (!match) return null;
  const unit = { s: 1, m: 60, h: 3_600, d: 86_400, w: 604_800 }[match[2] as "s" | "m" | "h" | "d" | "w"];
  return Number(match[1]) * unit;
}

/** What an input of bars `interval` seconds long may be analysed on: its own size, then each
 * coarser one that is a whole number of its bars (the analyzer refuses the others). */
export function timeframeChoices(interval: number): string[] {
  const coarser = BAR_SIZES.filter(([, seconds]) => seconds > interval && seconds % interval === 0);
  return [timeframeName(interval), ...coarser.map(([name]) => name)];
}

/** Ticked or unticked, keeping the choices' order (finest first, as the report lists them). */
export function toggleTimeframe(chosen: readonly string[], name: string, choices: readonly string[]): string[] {
  const next = new Set(chosen);
  if (next.has(name)) next.delete(name);
  else next.add(name);
  return choices.filter((choice) => next.has(choice));
}

export interface TrendForm {
  source: "file" | "live";
  dataFile: string;
  upload: File | null;
  coin: string;
  /** null: the analyzer's defaults for the input. */
  timeframes: string[] | null;
  suggest: boolean;
  suggestBars: string;
  folds: string;
}

export const DEFAULT_FORM: TrendForm = {
  source: "file", dataFile: "", upload: null, coin: "", timeframes: null, suggest: true,
  suggestBars: "100000", folds: "4",
};

/** POST /api/trend/analyze's body for the form, or the sentence saying what to fix first. */
export function analyzeRequest(form: TrendForm, coin: string | null): { request: AnalyzeRequest } | { problem: string } {
  if (form.source !== "file") return { problem: "a live coin's trend is read, not analysed as a job" };
  if (!form.upload && !form.dataFile) return { problem: "choose a data file or upload one" };
  if (form.timeframes !== null && form.timeframes.length === 0) return { problem: "tick at least one timeframe" };
  const suggestBars = Number(form.suggestBars);
  const folds = Number(form.folds);
  if (form.suggest) {
    if (!(Number.isInteger(suggestBars) && suggestBars >= 100)) {
      return { problem: "bars for suggestions must be a whole number of at least 100" };
    }
    if (!(Number.isInteger(folds) && folds >= 1 && folds <= 20)) {
      return { problem: "folds must be a whole number from 1 to 20" };
    }
  }
  return {
    request: {
      ...(form.upload ? {} : { data_file: form.dataFile }),
      timeframes: form.timeframes, suggest: form.suggest,
      suggest_bars: form.suggest ? suggestBars : 100_000, folds: form.suggest ? folds : 4,
      coin, candles: CHART_CANDLES,
    },
  };
}

/** 88 → "88th", 1 → "1st", 22 → "22nd", 13 → "13th". */
export function ordinal(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  const n = Math.round(value);
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${suffix}`;
}

/** The statistic to two decimals, else its first significant digits (a p-value of 0.0004). */
function stat(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (value !== 0 && Math.abs(value) < 0.01) return String(Number(value.toPrecision(1)));
  return ratio(value);
}

/** The nearest level of a kind (the report lists them nearest first). */
export function nearestLevel(levels: readonly Level[] | undefined, kind: Level["kind"]): Level | null {
  return levels?.find((level) => level.kind === kind) ?? null;
}

/** 71,200.00 ×4: the level and how many times the price came back to it. */
export function levelText(level: Level | null): string {
  return level ? `${price(level.price)} ×${count(level.touches)}` : "—";
}

/** The same level in full for its tooltip: the zone, the distance, the last touch. */
export function levelTitle(level: Level | null): string {
  if (!level) return "";
  return `${level.kind} ${price(level.price)} (zone ${price(level.low)}–${price(level.high)}), ` +
    `${pct(level.distance_pct, 2)} ${level.kind === "support" ? "below" : "above"} the price, ` +
    `touched ${count(level.touches)} times, last at ${utc(level.last_touch, false)} UTC`;
}

export interface TimeframeRow {
  timeframe: string;
  bars: string;
  ok: boolean;
  message: string;
  direction: string;
  directionClass: string;
  strength: string;
  strengthTitle: string;
  slope: string;
  slopeTitle: string;
  averages: string;
  averagesTitle: string;
  volatility: string;
  volatilityTitle: string;
  character: string;
  characterTitle: string;
  support: string;
  resistance: string;
  supportTitle: string;
  resistanceTitle: string;
  summary: string;
}

const CHARACTER = { trending: "trending", mean_reverting: "mean-reverting", random: "random" } as const;

/** One timeframe of the report as the table's cells (a timeframe with too few bars keeps its
 * name, its bars and the analyzer's message). */
export function timeframeRow(tf: TimeframeReport): TimeframeRow {
  const blank = {
    direction: "", directionClass: "", strength: "", strengthTitle: "", slope: "", slopeTitle: "",
    averages: "", averagesTitle: "", volatility: "", volatilityTitle: "", character: "",
    characterTitle: "", support: "", resistance: "", supportTitle: "", resistanceTitle: "",
  };
  const base = { timeframe: tf.timeframe, bars: count(tf.bars), ok: tf.ok, message: tf.message, summary: tf.summary };
  if (!tf.ok) return { ...base, ...blank };
  const { adx, regression: fit, moving_averages: ma, volatility: vol, character: ch } = tf;
  const cross = ma?.last_cross;
  return {
    ...base,
    direction: tf.direction ?? "—",
    directionClass: tf.direction === "up" ? "gain" : tf.direction === "down" ? "loss" : "",
    strength: `${tf.strength ?? "—"} ${amount(adx?.adx, 1)}`,
    strengthTitle: adx ? `ADX(${adx.period}) ${amount(adx.adx, 1)}, +DI ${amount(adx.plus_di, 1)}, −DI ${amount(adx.minus_di, 1)}` : "",
    slope: `${pct(fit?.slope_pct_per_bar, 3, true)} t ${amount(fit?.t_stat, 1)}`,
    slopeTitle: fit ? `log-price regression over the last ${count(fit.bars)} bars: ` +
      `${pct(fit.slope_pct_per_bar, 4, true)} a bar, t ${amount(fit.t_stat, 2)}, R² ${ratio(fit.r2)}` : "",
    averages: ma ? `${ma.alignment}${cross ? `, ${cross.kind} ${count(cross.bars_ago)} ago` : ""}` : "—",
    averagesTitle: ma ? `${ma.alignment}: ` + ma.periods.map((p, i) => `SMA ${p} ${price(ma.values[i])}`).join(", ") +
      (cross ? `; ${cross.kind} cross (${cross.fast}/${cross.slow}) at ${utc(cross.time, false)} UTC` : "; no cross") : "",
    volatility: vol ? `${vol.regime} ${pct(vol.atr_pct, 2)} (${ordinal(vol.atr_percentile)})` : "—",
    volatilityTitle: vol ? `ATR ${pct(vol.atr_pct, 2)} of the price, ${ordinal(vol.atr_percentile)} percentile; ` +
      `realised volatility ${pct(vol.realised_vol === null ? null : vol.realised_vol * 100, 1)} a year ` +
      `(${vol.window} bars), ${ordinal(vol.realised_vol_percentile)} percentile` : "",
    character: ch ? `${CHARACTER[ch.label]} H ${stat(ch.hurst)}` : "—",
    characterTitle: ch ? `Hurst ${stat(ch.hurst)}; variance ratio ${stat(ch.variance_ratio)} at lag ${ch.lag} ` +
      `(z ${stat(ch.z)}, p ${stat(ch.p_value)}; ${pct(ch.confidence * 100, 0)} confidence) over ${count(ch.bars)} bars` : "",
    support: levelText(nearestLevel(tf.levels, "support")),
    resistance: levelText(nearestLevel(tf.levels, "resistance")),
    supportTitle: levelTitle(nearestLevel(tf.levels, "support")),
    resistanceTitle: levelTitle(nearestLevel(tf.levels, "resistance")),
  };
}

/** BTCUSD-1h-sample.csv · BTC · 17,520 bars of 1h · 2023-01-01 00:00 → 2024-12-31 23:00 UTC · last 64,123.50 */
export function reportHeading(report: TrendReport): string {
  return [
    report.source, report.coin ?? "", `${count(report.bars)} bars of ${timeframeName(report.interval)}`,
    `${utc(report.first, false).slice(0, 16)} → ${utc(report.last, false).slice(0, 16)} UTC`,
    `last ${price(report.price)}`,
  ].filter(Boolean).join(" · ");
}

/** The timeframe the chart opens on: the one asked for if the report has it with bars to
 * draw, else the finest that has. */
export function chartTimeframe(report: TrendReport | null, wanted: string | null): string | null {
  const drawable = (report?.timeframes ?? []).filter((tf) => tf.ok && (tf.candles?.time.length ?? 0) > 0);
  return drawable.find((tf) => tf.timeframe === wanted)?.timeframe ?? drawable[0]?.timeframe ?? null;
}

export interface PriceLine {
  price: number;
  kind: Level["kind"];
  title: string;
}

/** A horizontal line per level, titled for the price scale: "R ×4" at 71,200. */
export function levelLines(levels: readonly Level[] | undefined): PriceLine[] {
  return (levels ?? []).map((level) => ({
    price: level.price, kind: level.kind,
    title: `${level.kind === "support" ? "S" : "R"} ×${level.touches}`,
  }));
}

export interface LinePoint {
  time: number;
  value: number;
}

/** The regression line and its channel at each bar it spans. The fit is of the log price over
 * the last bars by their index (research/trend.py _regression), so between its two ends the
 * line is geometric, p0·(p1/p0)^(i/(n−1)) at the i-th of its n bars (straight on a log scale),
 * and the channel, ±2 standard errors of the log fit, is the line times and divided by
 * (1 + channel_pct/100). */
export function trendLinePoints(line: TrendLine | null | undefined, times: readonly number[]):
  { middle: LinePoint[]; upper: LinePoint[]; lower: LinePoint[] } {
  const none = { middle: [], upper: [], lower: [] };
  if (!line || line.time.length < 2 || line.price.length < 2) return none;
  const [t0, t1] = [line.time[0], line.time[line.time.length - 1]];
  const [p0, p1] = [line.price[0], line.price[line.price.length - 1]];
  if (!(t1 > t0) || !(p0 > 0) || !(p1 > 0)) return none;
  const spanned = times.filter((t) => t >= t0 && t <= t1);
  // the fit's own bars when the chart holds them all, else its two ends placed by time
  const whole = spanned.length >= 2 && spanned[0] === t0 && spanned[spanned.length - 1] === t1;
  const at = whole ? spanned : [t0, t1];
  const middle = at.map((time, i) => ({ time, value: p0 * (p1 / p0) ** (i / (at.length - 1)) }));
  const channel = line.channel_pct;
  if (channel === null || channel === undefined || !(channel > 0)) return { middle, upper: [], lower: [] };
  const factor = 1 + channel / 100;
  return {
    middle,
    upper: middle.map(({ time, value }) => ({ time, value: value * factor })),
    lower: middle.map(({ time, value }) => ({ time, value: value / factor })),
  };
}

/** The open time of the bar holding `time` (bars sorted by open time), or null before the first. */
export function barAt(times: readonly number[], time: number): number | null {
  let low = 0;
  let high = times.length - 1;
  if (high < 0 || time < times[0]) return null;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (times[middle] <= time) low = middle;
    else high = middle - 1;
  }
  return times[low];
}

export interface BreakoutMarker {
  time: number;
  direction: Breakout["direction"];
  text: string;
}

/** A marker at the bar of each breakout the chart holds, oldest first (the chart's order);
 * only the newest is labelled with its level (five labels a few bars apart overlap). */
export function breakoutMarkers(breakouts: readonly Breakout[] | undefined, times: readonly number[]): BreakoutMarker[] {
  const markers: BreakoutMarker[] = [];
  for (const breakout of breakouts ?? []) {
    const time = barAt(times, breakout.time);
    if (time === null) continue;
    markers.push({ time, direction: breakout.direction, text: markers.length ? "" : `${breakout.direction === "up" ? "↑" : "↓"} ${price(breakout.level)}` });
  }
  return markers.sort((a, b) => a.time - b.time);
}

/** The candles of a timeframe as lightweight-charts bars. */
export function chartBars(candles: ReportCandles | undefined) {
  if (!candles) return [];
  return candles.time.map((time, i) => ({
    time, open: candles.open[i], high: candles.high[i], low: candles.low[i], close: candles.close[i],
  }));
}

export interface SuggestionRow {
  rank: number;
  strategy: string;
  params: string;
  timeframe: string;
  inSample: string;
  outOfSample: string;
  oosReturn: string;
  oosReturnClass: string;
  trades: string;
  fees: string;
  hold: string;
  versusHold: string;
  versusHoldClass: string;
}

/** A suggestion's cells: its scores, its out-of-sample return beside holding's in the same
 * windows, its trades and fees. */
export function suggestionRow(item: Suggestion): SuggestionRow {
  const edge = item.oos_return_pct !== null && item.hold_return_pct !== null
    ? item.oos_return_pct - item.hold_return_pct : null;
  return {
    rank: item.rank, strategy: item.strategy, timeframe: item.timeframe,
    // a quantity of 0 is the engine's default size, not a choice the search made
    params: paramsText(Object.fromEntries(Object.entries(item.params).filter(([k, v]) => !(k === "quantity" && v === 0)))),
    inSample: ratio(item.in_sample_score), outOfSample: ratio(item.out_of_sample_score),
    oosReturn: pct(item.oos_return_pct, 2, true), oosReturnClass: signed(item.oos_return_pct),
    trades: count(item.trades), fees: amount(item.fees), hold: pct(item.hold_return_pct, 2, true),
    versusHold: edge === null ? "—" : `${pct(edge, 2, true).replace("%", "")} pts`, versusHoldClass: signed(edge),
  };
}

function signed(value: number | null): string {
  if (value === null || value === 0) return "";
  return value > 0 ? "gain" : "loss";
}

/** What the suggestions panel says above its rows. */
export function suggestionsCaption(suggestions: Suggestions): string {
  return `${count(suggestions.bars)} bars of ${suggestions.timeframe}, ${suggestions.folds} walk-forward folds, ` +
    `ranked by ${suggestions.metric} out of sample, fee ${pct(suggestions.fee * 100, 2)}; ` +
    `holding: ${pct(suggestions.hold.oos_return_pct, 2, true)} out of sample`;
}
