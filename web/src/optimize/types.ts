// The shapes of the optimisation API's replies (docs/api.md "Optimisation") and the ranking
// metrics it accepts (velocitas_desktop/research/ranking.py, the OpenAPI schema's JobIn.metric).

export type JobStatusName = "ready" | "running" | "finished" | "cancelled" | "error";

export const ENDED: ReadonlySet<JobStatusName> = new Set(["finished", "cancelled", "error"]);

export interface DataFile {
  name: string;
  size: number;
  folder: string;
}

export interface Job {
  job_id: string;
  status: JobStatusName;
  done: number;
  total: number;
  progress: number;
  strategy: string;
  metric: string;
  data: string;
  created: number;
  error: string | null;
}

/** POST /api/optimization/jobs (the upload sends the same fields without data_file). */
export interface JobIn {
  data_file?: string;
  strategy: string;
  grid: Record<string, string | number[]>;
  metric: string;
  fee: number;
  in_sample: number;
  /** 0: none; K: the bars cut into K+1 windows, each fold ranked on one and scored on the next */
  walk_forward?: number;
  random?: number | null;
  seed?: number | null;
}

export type ParamValue = number | boolean;
export type Params = Record<string, ParamValue>;

/** The statistics a result row keeps per window (research/optimize.py ROW_STATS). */
export interface RowStats {
  final_equity: number | null;
  total_return_pct: number | null;
  net_pnl: number | null;
  total_trades: number | null;
  closed_trades: number | null;
  win_rate: number | null;
  max_drawdown: number | null;
  max_drawdown_pct: number | null;
  sharpe_ratio: number | null;
  sortino_ratio: number | null;
  calmar_ratio: number | null;
  profit_factor: number | null;
  expectancy: number | null;
  exposure_pct: number | null;
  fees: number | null;
  [key: string]: number | null;
}

export interface ResultRow {
  rank: number;
  params: Params;
  score: number | null;
  stats: RowStats;
  oos_score?: number | null;
  oos_stats?: RowStats;
}

/** One walk-forward fold of a result (research/optimize.py _walk_forward). */
export interface Fold {
  fold: number;
  in_sample_bars: [number, number];      // [start, stop) bar indexes ranked on
  out_of_sample_bars: [number, number];  // [start, stop) scored on
  params: Params;
  in_sample_score: number | null;
  out_of_sample_score: number | null;
}

export interface Results {
  strategy: string;
  metric: string;
  combinations: number;
  completed: number;
  cancelled: boolean;
  elapsed_s?: number;
  results: ResultRow[];
  lookahead?: { ok: boolean; message: string } | null;
  walk_forward?: Fold[];
}

export interface BacktestTrade {
  timestamp: number;
  action: "BUY" | "SELL";
  price: number;
  quantity: number;
  profit_loss: number;
  position_size: number;
  fee: number;
}

/** GET /api/optimization/jobs/{job_id}/results/{rank}: the row backtested over the whole file. */
export interface RowBacktest {
  rank: number;
  params: Params;
  score: number | null;
  stats: Record<string, number | null>;
  time: number[];
  equity: number[];
  split_time: number | null;
  cash: number;
  trades: BacktestTrade[];
}

export interface Metric {
  key: string;
  title: string;
  higherIsBetter: boolean;
}

/** In the order the window and the command line offer them (research/ranking.py). */
export const METRICS: readonly Metric[] = [
  { key: "sharpe_ratio", title: "Sharpe ratio", higherIsBetter: true },
  { key: "net_pnl", title: "Net P&L", higherIsBetter: true },
  { key: "total_return", title: "Total return %", higherIsBetter: true },
  { key: "max_drawdown", title: "Max drawdown", higherIsBetter: false },
  { key: "profit_factor", title: "Profit factor", higherIsBetter: true },
  { key: "sortino_ratio", title: "Sortino ratio", higherIsBetter: true },
  { key: "calmar_ratio", title: "Calmar ratio", higherIsBetter: true },
  { key: "expectancy", title: "Expectancy", higherIsBetter: true },
  { key: "win_rate", title: "Win rate %", higherIsBetter: true },
  { key: "max_drawdown_pct", title: "Max drawdown %", higherIsBetter: false },
  { key: "final_equity", title: "Final equity", higherIsBetter: true },
];

export const DEFAULT_METRIC = "sharpe_ratio";

export function metricOf(key: string): Metric {
  return METRICS.find((m) => m.key === key) ?? { key, title: key, higherIsBetter: true };
}
