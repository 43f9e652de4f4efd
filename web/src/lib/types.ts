// The shapes of the REST and WebSocket replies this page reads (docs/api.md).

export type EngineStatusName =
  | "stopped" | "starting" | "running" | "paused" | "stopping" | "finished" | "error";

export interface Clock {
  kind: "simulated" | "replay" | "exchange" | null;
  time: number | null;
  speed: number | null;
}

export interface EngineStatus {
  status: EngineStatusName;
  message: string;
  source: string | null;
  coins: string[];
  workers: number;
  rate: number | null;
  speed: number | null;
  session_id: number | null;
  continued: boolean;
  ticks_processed: number;
  ticks_per_second: number;
  strategies: number;
  feed: { state: string; message: string } | null;
  clock: Clock | null;
}

export interface GlobalMetrics {
  mode: string;
  status: EngineStatusName;
  total_trades: number;
  closed_trades: number;
  winning_trades: number;
  losing_trades: number;
  net_pnl: number;
  unrealized_pnl: number;
  equity: number;
  capital: number;
  return_pct: number;
  fees: number;
  win_rate: number;
  max_drawdown: number;
  max_drawdown_pct: number | null;
  sharpe_ratio: number | null;
  sharpe_note: string | null;
  last_trade_id: number | null;
  active_strategies: number;
  active_coins: number;
  ticks_processed: number;
  ticks_per_second: number;
  feed?: { state: string; message: string } | null;
  source?: string | null;
  coins?: string[];
  session_id?: number | null;
  clock?: Clock | null;
  journal?: { path: string; state: string; message: string; pauses: number } | null;
  latency_ms?: Record<string, number | null>;
  [key: string]: unknown;
}

export interface StrategyMetrics {
  strategy_id: string;
  coin: string;
  strategy_name: string;
  total_trades: number;
  closed_trades: number;
  win_rate: number;
  net_pnl: number;
  unrealized_pnl: number;
  return_pct: number;
  current_position: number;
  entry_price: number | null;
  max_drawdown: number;
  max_drawdown_pct: number | null;
  sharpe_ratio: number | null;
  sharpe_note: string | null;
  equity: number;
  capital: number;
  fees: number;
  last_price: number | null;
  status: "active" | "paused" | "error";
  error: string | null;
  timeframe: string;
  params: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Metrics {
  type?: "metrics";
  global: GlobalMetrics;
  strategies: Record<string, StrategyMetrics>;
}

export interface Strategy {
  strategy_id: string;
  name: string;
  coin: string;
  params: Record<string, number | string | boolean>;
  timeframe: string;
  allow_short: boolean;
  status: "active" | "paused" | "error";
  error: string | null;
}

export interface ParamSpec {
  name: string;
  type: "int" | "float" | "bool" | "str" | string;
  default: number | string | boolean;
  low?: number | null;
  high?: number | null;
  step?: number | null;
  doc?: string;
  choices?: (string | number)[] | null;
  [key: string]: unknown;
}

export interface AvailableStrategy {
  name: string;
  description: string;
  params: ParamSpec[];
  constraints: string[];
  timeframes: string[];
}

export interface Trade {
  id: number;
  strategy_id: string;
  coin: string;
  strategy: string;
  action: "BUY" | "SELL";
  price: number;
  quantity: number;
  timestamp: number;
  profit_loss: number;
  position_size: number;
  fee: number;
  sent_at?: number;
}

export interface Candles {
  coin: string;
  interval: number;
  volume_unit: "ticks" | "coin";
  time: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
}
