import { describe, expect, it } from "vitest";
import { TradeStore, blotterCount, type OlderQuery } from "./tradeStore";
import type { Metrics, Trade } from "./types";

function trade(id: number, extra: Partial<Trade> = {}): Trade {
  const coin = id % 3 === 0 ? "ETH" : "BTC";
  return {
    id, strategy_id: `${coin}_RSI`, coin, strategy: "RSI", action: id % 2 ? "BUY" : "SELL",
    price: 100, quantity: 1, timestamp: 1_700_000_000 + id, profit_loss: 0, position_size: 0,
    fee: 0, ...extra,
  };
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => trade(from + i));

/** A journal of fills 1..n served as /api/trades does (order=desc, offset, filters). */
function journal(n: number) {
  const all = range(1, n);
  const queries: OlderQuery[] = [];
  const fetchTrades = async (query: OlderQuery) => {
    queries.push(query);
    const rows = all.filter((t) => (!query.strategy_id || t.strategy_id === query.strategy_id)
      && (!query.coin || t.coin === query.coin)).reverse();
    return rows.slice(query.offset, query.offset + query.limit);
  };
  return { all, queries, fetchTrades };
}

const ids = (trades: readonly Trade[]) => trades.map((t) => t.id);

describe("TradeStore", () => {
  it("keeps the newest fills first, bounded by its window", () => {
    const store = new TradeStore({ fetchTrades: async () => [], windowSize: 100 });
    for (let start = 1; start <= 1000; start += 50) store.ingest(range(start, start + 49));
    const view = store.getView();
    expect(view.rows).toHaveLength(100);
    expect(view.rows[0].id).toBe(1000);
    expect(view.rows[99].id).toBe(901);
    expect(view.prepended).toBe(50);
  });

  it("tells its listeners once per ingest", () => {
    const store = new TradeStore({ fetchTrades: async () => [] });
    let calls = 0;
    store.subscribe(() => calls++);
    store.ingest(range(1, 500));
    expect(calls).toBe(1);
  });

  it("filters by strategy, coin and side, and lists the strategies and coins seen", () => {
    const store = new TradeStore({ fetchTrades: async () => [] });
    store.ingest(range(1, 30));
    store.setFilter({ strategy: null, coin: "ETH", side: "BUY" });
    const view = store.getView();
    expect(ids(view.rows)).toEqual([27, 21, 15, 9, 3]);
    expect(view.coins).toEqual(["BTC", "ETH"]);
    expect(view.strategies).toEqual(["BTC_RSI", "ETH_RSI"]);
    store.ingest(range(31, 33));
    expect(ids(store.getView().rows).slice(0, 2)).toEqual([33, 27]);
  });

  it("pages older fills past the window and keeps them contiguous", async () => {
    const server = journal(2000);
    const store = new TradeStore({ fetchTrades: server.fetchTrades, windowSize: 100, pageSize: 50 });
    store.ingest(server.all.slice(-100));
    await store.loadOlder();
    expect(server.queries[0]).toEqual({ order: "desc", limit: 50, offset: 100 });
    await store.loadOlder();
    const rows = ids(store.getView().rows);
    expect(rows).toEqual(ids(range(1801, 2000)).reverse());
    // new fills push the window's oldest into the older pages: still no hole
    store.ingest(range(2001, 2030));
    const after = ids(store.getView().rows);
    expect(after).toEqual(ids(range(1801, 2030)).reverse());
  });

  it("pages older fills of a filter, side included, without a hole or a duplicate", async () => {
    const server = journal(3000);
    const store = new TradeStore({ fetchTrades: server.fetchTrades, windowSize: 300, pageSize: 100 });
    store.ingest(server.all.slice(-300));
    store.setFilter({ strategy: "ETH_RSI", coin: null, side: "SELL" });
    for (let i = 0; i < 5; i++) await store.loadOlder();
    const rows = ids(store.getView().rows);
    const expected = ids(server.all.filter((t) => t.coin === "ETH" && t.action === "SELL")).reverse();
    expect(rows).toEqual(expected.slice(0, rows.length));
    expect(rows.length).toBeGreaterThan(100);
    expect(server.queries.every((q) => q.strategy_id === "ETH_RSI")).toBe(true);
  });

  it("keeps what leaves the window while held, then pages on from it without a hole", async () => {
    const server = journal(3000);
    const store = new TradeStore({ fetchTrades: server.fetchTrades, windowSize: 100, pageSize: 50 });
    store.ingest(server.all.slice(0, 100));
    store.hold(true);
    store.ingest(server.all.slice(100, 250));
    expect(ids(store.getView().rows)).toEqual(ids(range(1, 250)).reverse());
    store.hold(false);
    store.dropOlderPages();
    expect(store.getView().rows).toHaveLength(100);
    store.setFilter({ strategy: null, coin: "BTC", side: null });
    store.hold(true);
    store.ingest(server.all.slice(250, 400));
    await store.loadOlder();
    const rows = ids(store.getView().rows);
    const btc = ids(server.all.slice(0, 400).filter((t) => t.coin === "BTC")).reverse();
    expect(rows).toEqual(btc.slice(0, rows.length));
    expect(rows.length).toBeGreaterThan(100);
  });

  it("stops at the session's first fill", async () => {
    const server = journal(120);
    const store = new TradeStore({ fetchTrades: server.fetchTrades, windowSize: 100, pageSize: 50 });
    store.ingest(server.all.slice(-100));
    await store.loadOlder();
    expect(store.getView().exhausted).toBe(true);
    expect(store.getView().rows).toHaveLength(120);
    await store.loadOlder();
    expect(server.queries).toHaveLength(1);
  });

  it("holds no more older fills than its bound, and drops them when the blotter is back at the top", async () => {
    const server = journal(10_000);
    const store = new TradeStore({
      fetchTrades: server.fetchTrades, windowSize: 100, pageSize: 100, maxOlder: 300,
    });
    store.ingest(server.all.slice(-100));
    for (let i = 0; i < 10; i++) await store.loadOlder();
    expect(store.getView().rows).toHaveLength(400);
    expect(store.getView().capped).toBe(true);
    for (let start = 10_001; start < 12_000; start += 100) store.ingest(range(start, start + 99));
    expect(store.getView().rows.length).toBeLessThanOrEqual(400);
    store.dropOlderPages();
    expect(store.getView().rows).toHaveLength(100);
    expect(store.getView().rows[0].id).toBe(12_000);
  });

  it("forgets older pages fetched for a filter that changed meanwhile", async () => {
    const server = journal(1000);
    const store = new TradeStore({ fetchTrades: server.fetchTrades, windowSize: 100, pageSize: 50 });
    store.ingest(server.all.slice(-100));
    const loading = store.loadOlder();
    store.setFilter({ strategy: null, coin: "BTC", side: null });
    await loading;
    expect(store.getView().rows.every((t) => t.coin === "BTC")).toBe(true);
    expect(store.getView().rows.length).toBeLessThanOrEqual(100);
  });
});

describe("TradeStore across sessions", () => {
  it("forgets the fills before a new session's first", () => {
    const store = new TradeStore({ fetchTrades: async () => [] });
    store.ingest(range(1, 20));
    store.ingest([trade(31, { coin: "SOL", strategy_id: "SOL_RSI" })]);
    store.dropBefore(31);
    expect(ids(store.getView().rows)).toEqual([31]);
    expect(store.getView().coins).toEqual(["SOL"]);
  });
});

describe("blotterCount", () => {
  const metrics = {
    global: { total_trades: 1000, last_trade_id: 1000 },
    strategies: {
      BTC_RSI: { coin: "BTC", total_trades: 667 },
      ETH_RSI: { coin: "ETH", total_trades: 333 },
    },
  } as unknown as Metrics;

  it("counts the session's fills: the metrics' up to their last id, the window's after it", () => {
    const store = new TradeStore({ fetchTrades: async () => [], windowSize: 100 });
    store.ingest(range(901, 1010));
    expect(blotterCount(store.getView(), metrics)).toEqual({ count: 1010, more: false });
    store.setFilter({ strategy: null, coin: "ETH", side: null });
    // 1002, 1005, 1008 are ETH's fills after the metrics' last
    expect(blotterCount(store.getView(), metrics)).toEqual({ count: 336, more: false });
  });

  it("counts the rows at hand for a side, with more to come while older ones remain", () => {
    const store = new TradeStore({ fetchTrades: async () => [], windowSize: 100 });
    store.ingest(range(901, 1000));
    store.setFilter({ strategy: null, coin: null, side: "BUY" });
    expect(blotterCount(store.getView(), metrics)).toEqual({ count: 50, more: true });
  });
});
