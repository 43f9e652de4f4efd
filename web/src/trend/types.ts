// The shapes of the trend API's replies (docs/api.md "Trend", /work's trend spec): the report
// TrendReport.to_json() writes, its suggestions, and the job that makes them.
import type { JobStatusName } from "../optimize/types";
import type { ParamValue } from "../lib/params";

export type Direction = "up" | "down" | "sideways";

export interface Level {
  kind: "support" | "resistance";
  price: number;
  low: number;
  high: number;
  touches: number;
  last_touch: number | null;
  distance_pct: number | null;
}

export interface Breakout {
  time: number;
  direction: "up" | "down";
  level: number;
  close: number;
}

export interface TrendLine {
  time: number[];
  price: number[];
  channel_pct: number | null;
}

export interface ReportCandles {
  time: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}

/** One timeframe of the report; when ok is false only its name, bars, message and summary. */
export interface TimeframeReport {
  timeframe: string;
  seconds: number;
  bars: number;
  ok: boolean;
  message: string;
  summary: string;
  time?: number;
  direction?: Direction;
  strength?: "weak" | "moderate" | "strong";
  adx?: { period: number; adx: number | null; plus_di: number | null; minus_di: number | null };
  regression?: { bars: number; slope_pct_per_bar: number | null; t_stat: number | null; r2: number | null };
  moving_averages?: {
    periods: number[];
    values: (number | null)[];
    alignment: "bullish" | "bearish" | "mixed";
    last_cross: { kind: "golden" | "death"; time: number; bars_ago: number; fast: number; slow: number } | null;
  };
  volatility?: {
    regime: "calm" | "normal" | "high" | "extreme";
    atr_pct: number | null;
    atr_percentile: number | null;
    realised_vol: number | null;
    realised_vol_percentile: number | null;
    window: number;
  };
  character?: {
    label: "trending" | "mean_reverting" | "random";
    hurst: number | null;
    variance_ratio: number | null;
    lag: number;
    z: number | null;
    p_value: number | null;
    confidence: number;
    bars: number;
  };
  levels?: Level[];
  breakouts?: Breakout[];
  trend_line?: TrendLine | null;
  candles?: ReportCandles;
}

export interface FoldResult {
  fold: number;
  params: Record<string, ParamValue>;
  in_sample_score: number | null;
  out_of_sample_score: number | null;
  oos_return_pct: number | null;
  trades: number;
  fees: number;
}

export interface Suggestion {
  rank: number;
  strategy: string;
  params: Record<string, ParamValue>;
  timeframe: string;
  in_sample_score: number | null;
  out_of_sample_score: number | null;
  oos_return_pct: number | null;
  trades: number;
  fees: number;
  hold_return_pct: number | null;
  beats_hold: boolean;
  beats_cash: boolean;
  folds?: FoldResult[];
}

export interface Suggestions {
  bars: number;
  timeframe: string;
  folds: number;
  metric: string;
  fee: number;
  from: number;
  to: number;
  hold: { return_pct: number | null; oos_return_pct: number | null; fees: number | null };
  verdict: string;
  items: Suggestion[];
  rejected: Suggestion[];
  lookahead: { strategy: string; ok: boolean; message: string }[];
  elapsed_s: number;
}

export interface TrendReport {
  source: string;
  coin: string | null;
  bars: number;
  interval: number;
  first: number;
  last: number;
  price: number;
  warnings: string[];
  summary: string[];
  timeframes: TimeframeReport[];
  suggestions: Suggestions | null;
}

/** POST /api/trend/analyze (the upload sends the same fields without data_file). */
export interface AnalyzeRequest {
  data_file?: string;
  timeframes: string[] | null;
  suggest: boolean;
  suggest_bars: number;
  folds: number;
  coin: string | null;
  candles: number;
}

export interface TrendJob {
  job_id: string;
  status: JobStatusName;
  done: number;
  total: number;
  progress: number;
  data: string;
  created: number;
  error: string | null;
  report: TrendReport | null;
}
