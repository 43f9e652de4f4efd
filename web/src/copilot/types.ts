// The shapes of the copilot API's replies (docs/api.md "Copilot", /work's copilot spec): rules,
// the declared condition types a rule form is built from, alerts, actions (decisions), the
// settings, and the "Test on history" job.
import type { JobStatusName } from "../optimize/types";

export type Severity = "info" | "warning" | "critical";
export const SEVERITIES: readonly Severity[] = ["info", "warning", "critical"];

export type ScopeKind = "coin" | "strategy" | "all";
export type FrequencyMode = "once" | "once_per_bar" | "once_per_bar_close" | "every_time";

export type ActionType = "pause_strategy" | "resume_strategy" | "set_quantity" | "close_position"
  | "pause_all" | "stop_engine" | "apply_suggestion";

export type ParamJson = number | string | boolean | null | Record<string, number | boolean | string>;

export interface RuleAction {
  type: ActionType;
  params: Record<string, ParamJson>;
  auto: boolean;
}

export interface Rule {
  id: string;
  name: string;
  enabled: boolean;
  condition: { type: string; params: Record<string, ParamJson> };
  scope: { kind: ScopeKind; value: string | null };
  frequency: { mode: FrequencyMode; cooldown_s?: number | null; bar?: string | null };
  expires: number | null;
  severity: Severity;
  message: string;
  action: RuleAction | null;
  // read-only, filled by the service
  created?: number;
  fired?: number;
  last_fired?: number | null;
  disabled_reason?: string | null;
}

/** One declared parameter of a condition type (copilot/conditions.py describe_conditions()). */
export interface ConditionParam {
  name: string;
  kind: string;
  default: number | string | boolean | null;
  low?: number | null;
  high?: number | null;
  step?: number | null;
  /** The value must be above low, not at it. */
  exclusive_low?: boolean;
  choices?: (string | number)[] | null;
  doc?: string;
}

export interface ConditionType {
  type: string;
  group: string;
  doc: string;
  /** The scopes a rule of this type may have. */
  scopes?: ScopeKind[];
  /** Groups of parameters of which exactly one is given (RSI's above or below). */
  one_of?: string[][];
  /** The message an alert of this type says when the rule has none of its own. */
  message?: string;
  /** The placeholders a message of this type may name besides the standard ones (its
   * parameters and figures: {timeframe}, {side}, {unit}…). */
  placeholders?: string[];
  params: ConditionParam[];
}

export interface Alert {
  id: number;
  rule_id: string;
  rule_name: string;
  time: number;
  tick_time: number | null;
  coin: string | null;
  strategy_id: string | null;
  severity: Severity;
  message: string;
  price: number | null;
  value: number | null;
  threshold: number | null;
  acknowledged: boolean;
  action_id: number | null;
  throttled: boolean;
  dedup_key?: string;
}

export type ActionStatus = "pending" | "executed" | "rejected" | "failed" | "expired";

export interface Action {
  id: number;
  alert_id: number | null;
  rule_id: string | null;
  type: ActionType;
  params: Record<string, ParamJson>;
  reason: string;
  status: ActionStatus;
  auto: boolean;
  created: number;
  decided: number | null;
  decided_by: string | null;
  result: string | null;
}

export interface Webhook {
  url: string;
  format: "json" | "discord" | "slack" | "telegram";
  min_severity: Severity;
  enabled: boolean;
  /** telegram only, and needed there: the chat the bot posts to. */
  chat_id?: string | null;
}

/** What POST /api/copilot/webhooks/test says of a test message. */
export interface WebhookTest {
  delivered: boolean;
  error: string | null;
  url: string;
  format: string;
  elapsed_ms: number;
}

export interface Settings {
  /** close_positions: the guard closes every open position after pausing (true when absent). */
  daily_loss: { enabled: boolean; amount: number | null; percent: number | null; close_positions?: boolean };
  webhooks: Webhook[];
  heartbeat: { url: string | null; interval_s: number };
  throttle?: { count: number; window_s: number };
}

export interface Firing {
  rule_id: string;
  time: number;
  price: number | null;
  value: number | null;
  message: string;
  action: string | null | { type: string };
}

export interface RunFigures {
  return_pct: number | null;
  max_drawdown_pct: number | null;
  trades: number | null;
}

export interface Effect {
  rule_id: string;
  action: string | null | { type: string };
  strategy: string | null;
  without: RunFigures;
  with: RunFigures;
  drawdown_saved_pct: number | null;
}

export interface TestResult {
  firings: Firing[];
  counts: Record<string, number>;
  effects: Effect[];
}

export interface TestJob {
  job_id: string;
  status: JobStatusName;
  done: number;
  total: number;
  progress: number;
  error?: string | null;
  result?: TestResult | null;
}
