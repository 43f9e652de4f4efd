// The live page's connection to the server, outside React: the trade and metrics streams, the
// trade store, the engine log, and small observable values the panels subscribe to one by one
// (a metrics snapshot re-renders the KPI strip, not the blotter; a frame of trades the
// blotter and the chart markers, not the strategies table).
import { useSyncExternalStore } from "react";
import { ApiError, api, socketUrl } from "../lib/api";
import {
  MetricsStream, TradeStream, browserDeps, exposeTradeStats,
  type ConnectionState, type StreamDeps,
} from "../lib/stream";
import { TradeStore } from "../lib/tradeStore";
import type { EngineStatus, Metrics, Trade } from "../lib/types";

/** A value that tells its subscribers when it changes. */
export class Observable<T> {
  private readonly listeners = new Set<() => void>();
  constructor(private value: T) {}
  get = (): T => this.value;
  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const listener of this.listeners) listener();
  }
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

export function useObservable<T>(observable: Observable<T>): T {
  return useSyncExternalStore(observable.subscribe, observable.get);
}

export interface LogLine {
  id: number;
  time: number;
  level: "info" | "warning" | "error";
  message: string;
  /** Written by this page (a resume), not by the server. */
  local?: boolean;
  /** Unique on the page (a restarted server numbers its lines from 1 again). */
  key?: number;
}

const LOG_KEPT = 200;
const LOG_POLL_MS = 2_000;
/** /api/log missing (an older server): ask again now and then, not every 2 s. */
const LOG_ABSENT_POLL_MS = 30_000;

export class LiveHub {
  readonly store: TradeStore;
  readonly metrics = new Observable<Metrics | null>(null);
  readonly engine = new Observable<EngineStatus | null>(null);
  readonly tradeConnection = new Observable<ConnectionState>({ kind: "connecting" });
  readonly metricsConnection = new Observable<ConnectionState>({ kind: "connecting" });
  readonly log = new Observable<readonly LogLine[]>([]);
  /** Server log lines available (false while /api/log answers 404). */
  readonly logAvailable = new Observable<boolean>(true);
  private readonly trades: TradeStream;
  private readonly metricsStream: MetricsStream;
  private readonly fillListeners = new Set<(trades: readonly Trade[]) => void>();
  private logAfter = 0;
  private logResync = false;
  private logKeys = 0;
  private localLogId = 0;
  private logTimer: number | null = null;
  private stopped = false;
  private runs = 0;

  constructor(deps: StreamDeps = browserDeps()) {
    this.store = new TradeStore({
      fetchTrades: (query) => api.get<Trade[]>("/api/trades", { ...query }),
    });
    this.trades = new TradeStream({
      deps,
      url: (afterId) => socketUrl("/ws/trades", { batch: true, after_id: afterId }),
      fetchTrades: (query) => api.get<Trade[]>("/api/trades", { ...query }),
      onTrades: (trades) => {
        this.store.ingest(trades);
        for (const listener of this.fillListeners) listener(trades);
      },
      onState: (state) => {
        this.tradeConnection.set(state);
        // the server may have restarted, its log's ids with it: read the log from its start
        // again and keep the lines newer than the last one shown
        if (state.kind === "live" && state.resumedAfter !== null) this.logResync = true;
      },
      onLog: (level, message) => this.addLocal(level, message),
    });
    this.metricsStream = new MetricsStream({
      deps,
      url: () => socketUrl("/ws/metrics", { interval: 0.5 }),
      onMetrics: (metrics) => this.takeMetrics(metrics),
      onState: (state) => this.metricsConnection.set(state),
    });
    exposeTradeStats(this.trades.stats, window);
  }

  start(): void {
    this.stopped = false;
    void this.refresh();
    void this.refreshEngine();
    void this.trades.start();
    this.metricsStream.start();
    void this.pollLog(++this.runs);
  }

  stop(): void {
    this.stopped = true;
    this.trades.stop();
    this.metricsStream.stop();
    if (this.logTimer !== null) window.clearTimeout(this.logTimer);
  }

  /** Every trade as it is taken (oldest first, once per frame): the chart's markers. */
  onFills(listener: (trades: readonly Trade[]) => void): () => void {
    this.fillListeners.add(listener);
    return () => this.fillListeners.delete(listener);
  }

  /** The metrics now (after an action, not to wait for the next snapshot). */
  async refresh(): Promise<void> {
    try {
      this.takeMetrics(await api.get<Metrics>("/api/metrics"));
    } catch {
      // the stream brings them when the server is back
    }
  }

  async refreshEngine(): Promise<void> {
    try {
      this.engine.set(await api.get<EngineStatus>("/api/engine/status"));
    } catch {
      // as above
    }
  }

  private takeMetrics(metrics: Metrics): void {
    const before = this.metrics.get();
    this.metrics.set(metrics);
    const status = metrics.global.status;
    const session = metrics.global.session_id ?? null;
    if (before?.global.status !== status || (before?.global.session_id ?? null) !== session) {
      void this.refreshEngine();
    }
    if (before && before.global.session_id != null && session !== null && before.global.session_id !== session) {
      void this.newSession();
    }
  }

  /** A new session began while the page was open: the blotter keeps its fills only. */
  private async newSession(): Promise<void> {
    const seen = this.trades.stats.lastId ?? 0;
    try {
      const [first] = await api.get<Trade[]>("/api/trades", { order: "asc", limit: 1 });
      this.store.dropBefore(first ? first.id : seen + 1);
      this.addLocal("info", `a new session began (session ${this.metrics.get()?.global.session_id})`);
    } catch {
      // the blotter keeps the earlier session's fills until the page is reloaded
    }
  }

  addLocal(level: LogLine["level"], message: string): void {
    this.localLogId -= 1;
    this.appendLog([{ id: this.localLogId, time: Date.now() / 1000, level, message, local: true }]);
  }

  private appendLog(lines: LogLine[]): void {
    if (!lines.length) return;
    const next = this.log.get().concat(lines.map((line) => ({ ...line, key: ++this.logKeys })));
    this.log.set(next.length > LOG_KEPT ? next.slice(next.length - LOG_KEPT) : next);
  }

  private async pollLog(run: number): Promise<void> {
    if (this.stopped || run !== this.runs) return;
    let wait = LOG_POLL_MS;
    try {
      const resync = this.logResync;
      this.logResync = false;
      let lines = await api.get<LogLine[]>("/api/log", { after_id: resync ? 0 : this.logAfter, limit: LOG_KEPT });
      this.logAvailable.set(true);
      if (lines.length) {
        this.logAfter = lines[lines.length - 1].id;
        if (resync) {
          const shown = this.log.get().filter((line) => !line.local);
          const newest = shown.length ? shown[shown.length - 1] : null;
          if (newest) {
            lines = lines.filter((line) => line.time > newest.time
              || (line.time === newest.time && line.message !== newest.message && line.id > newest.id));
          }
        }
        this.appendLog(lines);
      }
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        this.logAvailable.set(false);
        wait = LOG_ABSENT_POLL_MS;
      }
    }
    if (!this.stopped && run === this.runs) this.logTimer = window.setTimeout(() => void this.pollLog(run), wait);
  }
}
