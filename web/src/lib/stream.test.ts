import { describe, expect, it } from "vitest";
import {
  Backoff, MetricsStream, RESUMED_SHOWN_MS, TradeStream, exposeTradeStats,
  type ConnectionState, type SocketLike, type StreamDeps, type TradeQuery,
} from "./stream";
import type { Trade } from "./types";

/** A socket the test opens, feeds and drops by hand. */
class FakeSocket implements SocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {}
  open() {
    this.onopen?.({});
  }
  send(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006, reason = "") {
    this.closed = true;
    this.onclose?.({ code, reason });
  }
  close() {
    this.drop(1000, "closed by the page");
  }
}

/** Fake time, timers, sockets and animation frames. */
class World {
  time = 0;
  sockets: FakeSocket[] = [];
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextTimer = 1;
  frames: (() => void)[] = [];
  deps: StreamDeps = {
    connect: (url) => {
      const socket = new FakeSocket(url);
      this.sockets.push(socket);
      return socket;
    },
    setTimeout: (callback, ms) => {
      const id = this.nextTimer++;
      this.timers.set(id, { at: this.time + ms, callback });
      return id;
    },
    clearTimeout: (handle) => void this.timers.delete(handle as number),
    now: () => this.time,
    random: () => 0.5,
    schedule: (callback) => void this.frames.push(callback),
  };

  get socket(): FakeSocket {
    return this.sockets[this.sockets.length - 1];
  }

  /** Runs the timers due within `ms`, in order. */
  advance(ms: number) {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }

  /** Paints one frame: runs what was scheduled for it. */
  frame() {
    const frames = this.frames;
    this.frames = [];
    frames.forEach((callback) => callback());
  }
}

function trade(id: number, extra: Partial<Trade> = {}): Trade {
  return {
    id, strategy_id: "BTC_RSI", coin: "BTC", strategy: "RSI", action: id % 2 ? "BUY" : "SELL",
    price: 100 + id, quantity: 1, timestamp: 1_700_000_000 + id, profit_loss: 0,
    position_size: id % 2, fee: 0.1, ...extra,
  };
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => trade(from + i));

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A stream over a journal holding `journal`, collecting what it delivers. */
async function follow(journal: Trade[], loadedUpTo = Infinity) {
  const world = new World();
  const delivered: Trade[] = [];
  const deliveries: number[] = [];
  const states: ConnectionState[] = [];
  const queries: TradeQuery[] = [];
  const logs: string[] = [];
  const stream = new TradeStream({
    deps: world.deps,
    url: (afterId) => `ws://test/ws/trades?batch=true&after_id=${afterId}`,
    fetchTrades: async (query) => {
      queries.push(query);
      if (query.order === "desc") {
        return journal.filter((t) => t.id <= loadedUpTo).slice(-(query.limit ?? 100)).reverse();
      }
      return journal.filter((t) => t.id > (query.after_id ?? 0)).slice(0, query.limit ?? 100);
    },
    onTrades: (trades) => {
      delivered.push(...trades);
      deliveries.push(trades.length);
    },
    onState: (state) => states.push(state),
    onLog: (_level, message) => logs.push(message),
  });
  await stream.start();
  world.frame();
  return { world, stream, delivered, deliveries, states, queries, logs };
}

const ids = (trades: Trade[]) => trades.map((t) => t.id);

describe("Backoff", () => {
  it("doubles from half a second up to ten seconds, and starts over after a reset", () => {
    const backoff = new Backoff(() => 0.5);
    expect([1, 2, 3, 4, 5, 6, 7].map(() => backoff.next()))
      .toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
    backoff.reset();
    expect(backoff.next()).toBe(500);
  });

  it("spreads each delay by up to a fifth either way, never past the maximum", () => {
    expect(new Backoff(() => 0).next()).toBe(400);
    expect(new Backoff(() => 1).next()).toBe(600);
    const late = new Backoff(() => 1);
    for (let i = 0; i < 10; i++) late.next();
    expect(late.next()).toBe(10_000);
  });
});

describe("TradeStream", () => {
  it("loads the newest trades, then opens the socket after the newest of them", async () => {
    const { world, delivered, queries } = await follow(range(1, 800));
    expect(queries[0]).toEqual({ order: "desc", limit: 500 });
    expect(ids(delivered)).toEqual(ids(range(301, 800)));
    expect(world.socket.url).toBe("ws://test/ws/trades?batch=true&after_id=800");
  });

  it("opens after id 0 on an empty journal, so nothing made meanwhile is missed", async () => {
    const { world } = await follow([]);
    expect(world.socket.url).toContain("after_id=0");
  });

  it("takes batch frames and single trade frames alike", async () => {
    const { world, stream, delivered } = await follow(range(1, 3));
    world.socket.open();
    world.socket.send({ type: "trades", trades: range(4, 6) });
    world.socket.send({ type: "trade", ...trade(7) });
    world.frame();
    expect(ids(delivered)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(stream.stats).toMatchObject({ received: 4, lastId: 7, duplicates: 0, gaps: 0 });
  });

  it("drops a trade whose id is not above the last one and counts it", async () => {
    const { world, stream, delivered } = await follow(range(1, 3));
    world.socket.open();
    world.socket.send({ type: "trades", trades: [trade(3), trade(4), trade(2), trade(4), trade(5)] });
    world.frame();
    expect(ids(delivered)).toEqual([1, 2, 3, 4, 5]);
    expect(stream.stats.duplicates).toBe(3);
  });

  it("coalesces a burst of frames into one delivery per animation frame", async () => {
    const { world, deliveries, delivered } = await follow([]);
    deliveries.length = 0;
    world.socket.open();
    for (let id = 1; id <= 200; id++) world.socket.send({ type: "trades", trades: [trade(id)] });
    expect(deliveries).toEqual([]);
    world.frame();
    expect(deliveries).toEqual([200]);
    world.socket.send({ type: "trades", trades: range(201, 210) });
    world.frame();
    world.frame();
    expect(deliveries).toEqual([200, 10]);
    expect(ids(delivered)).toEqual(ids(range(1, 210)));
  });

  it("reconnects with backoff and resumes after the last id, with no gap and no duplicate at the seam", async () => {
    const { world, stream, delivered, states, logs } = await follow(range(1, 10));
    world.socket.open();
    world.socket.send({ type: "trades", trades: range(11, 20) });
    world.socket.drop(1006);
    expect(states.at(-1)).toMatchObject({ kind: "reconnecting", delayMs: 500 });
    world.advance(499);
    expect(world.sockets).toHaveLength(1);
    world.advance(1);
    expect(world.sockets).toHaveLength(2);
    expect(world.socket.url).toContain("after_id=20");
    world.socket.drop(1006); // refused at once: the next wait is longer
    expect(states.at(-1)).toMatchObject({ kind: "reconnecting", delayMs: 1000 });
    world.advance(1000);
    world.socket.open();
    expect(states.at(-1)).toEqual({ kind: "live", resumedAfter: 20 });
    // the server replays from the journal; a trade it sent twice around the seam is dropped
    world.socket.send({ type: "trades", trades: [trade(20), ...range(21, 30)] });
    world.frame();
    expect(ids(delivered)).toEqual(ids(range(1, 30)));
    expect(stream.stats).toMatchObject({ lastId: 30, gaps: 0, resumes: 1, duplicates: 1 });
    expect(logs).toContain("trade stream resumed after #20");
    world.advance(RESUMED_SHOWN_MS);
    expect(states.at(-1)).toEqual({ kind: "live", resumedAfter: null });
  });

  it("starts the backoff over after a healthy connection", async () => {
    const { world, states } = await follow([]);
    for (const expected of [500, 1000, 2000]) {
      world.socket.drop();
      expect(states.at(-1)).toMatchObject({ kind: "reconnecting", delayMs: expected });
      world.advance(expected);
    }
    world.socket.open();
    world.advance(3000);
    world.socket.drop();
    expect(states.at(-1)).toMatchObject({ kind: "reconnecting", delayMs: 500 });
  });

  it("takes a new session's skipped ids as a new session, not a gap", async () => {
    const { world, stream, delivered, logs } = await follow(range(1, 5));
    world.socket.open();
    world.socket.send({
      type: "trades", trades: range(41, 43),
      skipped: { from_id: 6, to_id: 40, count: 35, reason: "fills of an earlier session" },
    });
    world.frame();
    expect(ids(delivered)).toEqual([1, 2, 3, 4, 5, 41, 42, 43]);
    expect(stream.stats.gaps).toBe(0);
    expect(logs.some((line) => line.includes("new session"))).toBe(true);
  });

  it("fills a gap from /api/trades and delivers in id order, holding what came meanwhile", async () => {
    // the journal has every trade; the socket loses 11-19
    const { world, stream, delivered, queries } = await follow(range(1, 40), 10);
    const fetches: TradeQuery[] = [];
    queries.length = 0;
    world.socket.open();
    world.socket.send({ type: "trades", trades: range(20, 22) });
    world.socket.send({ type: "trades", trades: range(23, 25) }); // while the repair runs
    await settle();
    world.frame();
    fetches.push(...queries);
    expect(fetches[0]).toEqual({ after_id: 10, limit: 10000, order: "asc" });
    expect(ids(delivered)).toEqual(ids(range(1, 25)));
    expect(stream.stats).toMatchObject({ gaps: 1, duplicates: 0, lastId: 25 });
  });

  it("does not count a jump the journal cannot fill (an earlier session's closing fills)", async () => {
    const journal = [...range(1, 10), ...range(15, 20)];
    const world = new World();
    const delivered: Trade[] = [];
    const stream = new TradeStream({
      deps: world.deps,
      url: (afterId) => `ws://x?after_id=${afterId}`,
      fetchTrades: async (query) => query.order === "desc"
        ? journal.slice(0, 10).reverse()
        : journal.filter((t) => t.id > (query.after_id ?? 0)),
      onTrades: (trades) => delivered.push(...trades),
    });
    await stream.start();
    world.socket.open();
    world.socket.send({ type: "trades", trades: range(15, 16) });
    await settle();
    world.frame();
    expect(ids(delivered)).toEqual([...ids(range(1, 10)), 15, 16]);
    expect(stream.stats.gaps).toBe(0);
  });

  it("retries the first load until the server answers", async () => {
    const world = new World();
    let calls = 0;
    const stream = new TradeStream({
      deps: world.deps,
      url: (afterId) => `ws://x?after_id=${afterId}`,
      fetchTrades: async () => {
        calls += 1;
        if (calls === 1) throw new Error("down");
        return [trade(7)];
      },
      onTrades: () => undefined,
    });
    const started = stream.start();
    await settle();
    expect(world.sockets).toHaveLength(0);
    world.advance(500);
    await started;
    expect(world.socket.url).toContain("after_id=7");
  });

  it("delivers the first load once when it is stopped and started again before it answers", async () => {
    const world = new World();
    const delivered: Trade[] = [];
    const stream = new TradeStream({
      deps: world.deps,
      url: (afterId) => `ws://x?after_id=${afterId}`,
      fetchTrades: async () => range(1, 5).reverse(),
      onTrades: (trades) => delivered.push(...trades),
    });
    const first = stream.start();
    stream.stop();
    const second = stream.start();
    await Promise.all([first, second]);
    world.frame();
    expect(ids(delivered)).toEqual([1, 2, 3, 4, 5]);
    expect(world.sockets).toHaveLength(1);
  });

  it("publishes its counters on window.__velocitas.trades, kept current", async () => {
    const { world, stream } = await follow([]);
    const target: { __velocitas?: { trades?: unknown } } = {};
    exposeTradeStats(stream.stats, target);
    world.socket.open();
    world.socket.send({ type: "trades", trades: range(1, 3) });
    expect(target.__velocitas?.trades).toMatchObject({ received: 3, lastId: 3 });
  });
});

describe("MetricsStream", () => {
  it("delivers only the newest snapshot of a frame and reconnects with backoff", () => {
    const world = new World();
    const seen: number[] = [];
    const states: ConnectionState[] = [];
    const stream = new MetricsStream({
      deps: world.deps,
      url: () => "ws://x/ws/metrics?interval=0.5",
      onMetrics: (metrics) => seen.push(metrics.global.total_trades),
      onState: (state) => states.push(state),
    });
    stream.start();
    world.socket.open();
    for (let n = 1; n <= 5; n++) {
      world.socket.send({ type: "metrics", global: { total_trades: n }, strategies: {} });
    }
    world.frame();
    expect(seen).toEqual([5]);
    world.socket.drop();
    expect(states.at(-1)).toMatchObject({ kind: "reconnecting", delayMs: 500 });
    world.advance(500);
    expect(world.sockets).toHaveLength(2);
    stream.stop();
    expect(states.at(-1)).toEqual({ kind: "stopped" });
  });
});
