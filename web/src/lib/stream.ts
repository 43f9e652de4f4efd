// The live streams of the page: /ws/trades (every fill, in id order, resumed after the last id
// seen) and /ws/metrics. Both reconnect with backoff; what arrives is coalesced and handed to
// the page once per animation frame, so a burst of frames costs one render.
//
// Everything that touches the outside world (the WebSocket constructor, timers, the frame
// scheduler, randomness, REST reads) is injected: the unit tests drive a stream with no real
// socket, no real time and no sleeps.
import type { Metrics, Trade } from "./types";

/** The part of a browser WebSocket the streams use. */
export interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface StreamDeps {
  /** Opens a socket: `(url) => new WebSocket(url)` in the browser. */
  connect: (url: string) => SocketLike;
  setTimeout: (callback: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  now: () => number;
  random: () => number;
  /** Runs `callback` before the next paint: requestAnimationFrame in the browser. */
  schedule: (callback: () => void) => void;
}

/** The browser's own: real sockets, real timers, one delivery per animation frame (a hidden
 * tab gets no frames, so there a 250 ms timer stands in and the buffers still drain). */
export function browserDeps(): StreamDeps {
  return {
    connect: (url) => new WebSocket(url) as unknown as SocketLike,
    setTimeout: (callback, ms) => window.setTimeout(callback, ms),
    clearTimeout: (handle) => window.clearTimeout(handle as number),
    now: () => Date.now(),
    random: Math.random,
    schedule: (callback) => {
      let done = false;
      const once = () => {
        if (done) return;
        done = true;
        window.clearTimeout(fallback);
        callback();
      };
      const fallback = window.setTimeout(once, 250);
      window.requestAnimationFrame(once);
    },
  };
}

/** Reconnection delays: 0.5 s doubling up to 10 s, each drawn within ±20% so that many pages
 * dropped by one server restart do not all come back in the same instant. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly random: () => number,
    readonly baseMs = 500,
    readonly maxMs = 10_000,
  ) {}

  /** The delay before the next attempt, in ms. */
  next(): number {
    const nominal = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(Math.min(this.maxMs, nominal * (0.8 + 0.4 * this.random())));
  }

  reset(): void {
    this.attempt = 0;
  }
}

export type ConnectionState =
  | { kind: "connecting" }
  | { kind: "live"; resumedAfter: number | null }
  | { kind: "reconnecting"; delayMs: number; at: number; reason: string }
  | { kind: "stopped" };

/** How long a connection must stay up (or deliver a frame) before the backoff starts over:
 * a server that accepts and drops at once (a refused token, a full server) is not hammered. */
const HEALTHY_MS = 3_000;

/** One socket kept open: reconnects with backoff whenever it closes, until stopped. */
export class ReconnectingSocket {
  private socket: SocketLike | null = null;
  private retry: unknown = null;
  private healthy: unknown = null;
  private stopped = true;
  private readonly backoff: Backoff;
  /** Connections opened so far (the first one included). */
  opened = 0;

  constructor(
    private readonly deps: StreamDeps,
    private readonly url: () => string,
    private readonly handlers: {
      message: (text: string) => void;
      open?: (reopened: boolean) => void;
      state: (state: ConnectionState) => void;
    },
  ) {
    this.backoff = new Backoff(deps.random);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onerror = socket.onopen = null;
      socket.close(1000, "page closed");
    }
    this.handlers.state({ kind: "stopped" });
  }

  /** Drop the connection now and reconnect at once (a socket that went quiet). */
  restart(): void {
    if (this.stopped) return;
    this.socket?.close(4000, "restart");
  }

  /** The connection counts as healthy: the next drop retries after the shortest delay. */
  markHealthy(): void {
    this.backoff.reset();
  }

  private open(): void {
    this.handlers.state({ kind: "connecting" });
    let socket: SocketLike;
    try {
      socket = this.deps.connect(this.url());
    } catch (error) {
      this.scheduleRetry((error as Error).message);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      const reopened = this.opened > 0;
      this.opened += 1;
      this.healthy = this.deps.setTimeout(() => this.backoff.reset(), HEALTHY_MS);
      this.handlers.open?.(reopened);
    };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") this.handlers.message(event.data);
    };
    socket.onerror = () => {
      // a close always follows; the retry is scheduled there
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      if (!this.stopped) this.scheduleRetry(event.reason || `closed (${event.code})`);
    };
  }

  private scheduleRetry(reason: string): void {
    const delayMs = this.backoff.next();
    this.handlers.state({ kind: "reconnecting", delayMs, at: this.deps.now() + delayMs, reason });
    this.retry = this.deps.setTimeout(() => {
      this.retry = null;
      if (!this.stopped) this.open();
    }, delayMs);
  }

  private clearTimers(): void {
    if (this.retry !== null) this.deps.clearTimeout(this.retry);
    if (this.healthy !== null) this.deps.clearTimeout(this.healthy);
    this.retry = this.healthy = null;
  }
}

/** The counters the tests and the benchmark read on window.__velocitas.trades. */
export interface TradeStats {
  /** Trades that came over the socket, duplicates included. */
  received: number;
  /** The newest id taken (null before the first). */
  lastId: number | null;
  /** Trades dropped because their id was not above the last one taken. */
  duplicates: number;
  /** Holes in the ids found and filled from /api/trades. */
  gaps: number;
  /** Reconnections that resumed after the last id. */
  resumes: number;
}

export interface SkippedNote {
  from_id: number;
  to_id: number;
  count: number;
  reason?: string;
}

/** A trade waiting behind a gap, or the end of the ids a new session skipped. */
type Held = Trade | { skipTo: number };

export type TradeQuery = { after_id?: number; order?: "asc" | "desc"; limit?: number };

export interface TradeStreamOptions {
  deps: StreamDeps;
  /** The socket's address resuming after `afterId` (lib/api.ts's socketUrl in the page). */
  url: (afterId: number) => string;
  /** GET /api/trades. */
  fetchTrades: (query: TradeQuery) => Promise<Trade[]>;
  /** New trades, oldest first, at most once per frame. */
  onTrades: (trades: Trade[]) => void;
  onState?: (state: ConnectionState) => void;
  /** A line for the page's log (resumes, new sessions, repaired gaps). */
  onLog?: (level: "info" | "warning", message: string) => void;
  /** A new session began while the page was away (the ids in between were not replayed). */
  onNewSession?: (note: SkippedNote) => void;
}

/** The newest trades loaded before the socket opens. */
export const INITIAL_TRADES = 500;
/** The largest page /api/trades serves. */
export const REPAIR_PAGE = 10_000;
/** How long the connection shows "Resumed after #id". */
export const RESUMED_SHOWN_MS = 5_000;

/** /ws/trades, kept open and in order: no duplicate and no gap ever reaches onTrades. */
export class TradeStream {
  readonly stats: TradeStats = { received: 0, lastId: null, duplicates: 0, gaps: 0, resumes: 0 };
  private readonly socket: ReconnectingSocket;
  private buffer: Trade[] = [];
  private flushPending = false;
  /** What arrived while a gap is being filled, in arrival order. */
  private held: Held[] = [];
  private repairing = false;
  private resumedTimer: unknown = null;
  private stopped = false;
  /** Starts so far: a load that outlives a stop and a new start is dropped. */
  private runs = 0;

  constructor(private readonly options: TradeStreamOptions) {
    this.socket = new ReconnectingSocket(
      options.deps,
      () => options.url(this.resumeFrom()),
      {
        message: (text) => this.onFrame(text),
        open: (reopened) => this.onOpen(reopened),
        state: (state) => this.setState(state),
      },
    );
  }

  /** Loads the newest trades, then follows the socket from the newest of them. */
  async start(): Promise<void> {
    this.stopped = false;
    const run = ++this.runs;
    this.setState({ kind: "connecting" });
    let newest: Trade[] = [];
    for (let attempt = 0; run === this.runs && !this.stopped; attempt++) {
      try {
        newest = await this.options.fetchTrades({ order: "desc", limit: INITIAL_TRADES });
        break;
      } catch (error) {
        const delayMs = Math.min(10_000, 500 * 2 ** attempt);
        this.setState({ kind: "reconnecting", delayMs, at: this.options.deps.now() + delayMs,
                        reason: (error as Error).message });
        await new Promise<void>((resolve) => this.options.deps.setTimeout(resolve, delayMs));
      }
    }
    if (this.stopped || run !== this.runs) return;
    for (const trade of [...newest].sort((a, b) => a.id - b.id)) {
      if (this.stats.lastId === null || trade.id > this.stats.lastId) this.take(trade);
    }
    this.socket.start();
  }

  stop(): void {
    this.stopped = true;
    this.socket.stop();
    if (this.resumedTimer !== null) this.options.deps.clearTimeout(this.resumedTimer);
  }

  /** The id a new connection resumes after: the newest taken or waiting to be taken. */
  private resumeFrom(): number {
    const newest = this.held[this.held.length - 1];
    const held = newest ? ("skipTo" in newest ? newest.skipTo : newest.id) : 0;
    return Math.max(this.stats.lastId ?? 0, held);
  }

  private setState(state: ConnectionState): void {
    this.options.onState?.(state);
  }

  private onOpen(reopened: boolean): void {
    if (!reopened) {
      this.setState({ kind: "live", resumedAfter: null });
      return;
    }
    const after = this.resumeFrom();
    this.stats.resumes += 1;
    this.options.onLog?.("info", `trade stream resumed after #${after}`);
    this.setState({ kind: "live", resumedAfter: after });
    if (this.resumedTimer !== null) this.options.deps.clearTimeout(this.resumedTimer);
    this.resumedTimer = this.options.deps.setTimeout(() => {
      this.resumedTimer = null;
      this.setState({ kind: "live", resumedAfter: null });
    }, RESUMED_SHOWN_MS);
  }

  private onFrame(text: string): void {
    let frame: { type?: string; trades?: Trade[]; skipped?: SkippedNote } & Partial<Trade>;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    let trades: Trade[];
    if (frame.type === "trades" && Array.isArray(frame.trades)) trades = frame.trades;
    else if (frame.type === "trade" && typeof frame.id === "number") trades = [frame as Trade];
    else return;
    this.socket.markHealthy();
    if (frame.skipped) this.skip(frame.skipped);
    for (const trade of trades) {
      this.stats.received += 1;
      this.accept(trade);
    }
  }

  /** A new session began after the last id: the ids the note names are not a gap. */
  private skip(note: SkippedNote): void {
    const last = this.resumeFrom();
    if (note.from_id <= last + 1 && note.to_id > last) {
      if (this.repairing) this.held.push({ skipTo: note.to_id });
      else this.stats.lastId = note.to_id;
    }
    this.options.onLog?.("info", `a new session began: ${note.count.toLocaleString("en-US")} ` +
                         "fills of an earlier session are not shown");
    this.options.onNewSession?.(note);
  }

  private accept(trade: Held): void {
    if (this.repairing) {
      this.held.push(trade);
      return;
    }
    if ("skipTo" in trade) {
      this.stats.lastId = Math.max(this.stats.lastId ?? 0, trade.skipTo);
      return;
    }
    const last = this.stats.lastId;
    if (last !== null && trade.id <= last) {
      this.stats.duplicates += 1;
      return;
    }
    if (last !== null && trade.id > last + 1) {
      this.held.push(trade);
      void this.repair(last, trade.id);
      return;
    }
    this.take(trade);
  }

  private take(trade: Trade): void {
    this.stats.lastId = trade.id;
    this.buffer.push(trade);
    if (!this.flushPending) {
      this.flushPending = true;
      this.options.deps.schedule(() => this.flush());
    }
  }

  private flush(): void {
    this.flushPending = false;
    if (!this.buffer.length) return;
    const batch = this.buffer;
    this.buffer = [];
    this.options.onTrades(batch);
  }

  /** Fills the ids between `last` and `upto` from /api/trades. None there: they were fills
   * of an earlier session (a new session closes the last one's positions with fills that are
   * journaled there and not sent), so not a gap. */
  private async repair(last: number, upto: number): Promise<void> {
    this.repairing = true;
    let found = 0;
    let from = last;
    let failures = 0;
    while (from < upto - 1 && !this.stopped) {
      let page: Trade[];
      try {
        page = await this.options.fetchTrades({ after_id: from, limit: REPAIR_PAGE, order: "asc" });
      } catch (error) {
        failures += 1;
        if (failures >= 3) {
          this.options.onLog?.("warning", `trades #${from + 1}–#${upto - 1} could not be ` +
                               `fetched: ${(error as Error).message}`);
          break;
        }
        await new Promise<void>((resolve) => this.options.deps.setTimeout(resolve, 1000 * failures));
        continue;
      }
      const missing = page.filter((trade) => trade.id > from && trade.id < upto);
      for (const trade of missing) {
        this.take(trade);
        found += 1;
      }
      if (!missing.length || page.length < REPAIR_PAGE || page[page.length - 1].id >= upto - 1) break;
      from = missing[missing.length - 1].id;
    }
    if (found) {
      this.stats.gaps += 1;
      this.options.onLog?.("warning", `trades #${last + 1}–#${upto - 1} were missing from the ` +
                           `stream and were fetched (${found.toLocaleString("en-US")})`);
    }
    this.repairing = false;
    this.stats.lastId = Math.max(this.stats.lastId ?? 0, upto - 1);
    const held = this.held;
    this.held = [];
    for (let i = 0; i < held.length; i++) {
      this.accept(held[i]);
      if (this.repairing) {
        // another hole further on: what follows it waits behind it
        const firstHeld = this.held.splice(0);
        this.held = [...firstHeld, ...held.slice(i + 1)];
        return;
      }
    }
  }
}

export interface MetricsStreamOptions {
  deps: StreamDeps;
  url: () => string;
  /** The newest snapshot, at most once per frame. */
  onMetrics: (metrics: Metrics) => void;
  onState?: (state: ConnectionState) => void;
}

/** /ws/metrics, kept open; only the newest snapshot of a frame is delivered. */
export class MetricsStream {
  private readonly socket: ReconnectingSocket;
  private latest: Metrics | null = null;
  private flushPending = false;

  constructor(private readonly options: MetricsStreamOptions) {
    this.socket = new ReconnectingSocket(options.deps, options.url, {
      message: (text) => this.onFrame(text),
      open: () => options.onState?.({ kind: "live", resumedAfter: null }),
      state: (state) => options.onState?.(state),
    });
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  private onFrame(text: string): void {
    let frame: Metrics;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || frame.type !== "metrics" || !frame.global) return;
    this.socket.markHealthy();
    this.latest = frame;
    if (!this.flushPending) {
      this.flushPending = true;
      this.options.deps.schedule(() => {
        this.flushPending = false;
        const latest = this.latest;
        this.latest = null;
        if (latest) this.options.onMetrics(latest);
      });
    }
  }
}

/** Publishes the trade counters as window.__velocitas.trades (the same object, kept current
 * as it changes), for the end-to-end tests and the benchmark. */
export function exposeTradeStats(stats: TradeStats, target: object = globalThis): void {
  const holder = target as { __velocitas?: { trades?: TradeStats } };
  holder.__velocitas = { ...(holder.__velocitas ?? {}), trades: stats };
}
