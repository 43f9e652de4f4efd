// The blotter's trades: a bounded window of the newest fills, newest first, with the
// blotter's filters, and older fills paged in from /api/trades on demand while the blotter is
// scrolled past the window (and dropped again when it is scrolled back up). At 2,000 fills a
// second the window turns over in 2.5 s; memory stays at window + older pages whatever the
// session's length.
import type { Metrics, Trade } from "./types";

export type Side = "BUY" | "SELL";

export interface TradeFilter {
  strategy: string | null;
  coin: string | null;
  side: Side | null;
}

export const NO_FILTER: TradeFilter = { strategy: null, coin: null, side: null };

export function matches(trade: Trade, filter: TradeFilter): boolean {
  return (filter.strategy === null || trade.strategy_id === filter.strategy)
    && (filter.coin === null || trade.coin === filter.coin)
    && (filter.side === null || trade.action === filter.side);
}

/** The server filters by strategy and coin, not by side. */
function matchesServer(trade: Trade, filter: TradeFilter): boolean {
  return (filter.strategy === null || trade.strategy_id === filter.strategy)
    && (filter.coin === null || trade.coin === filter.coin);
}

export interface OlderQuery {
  order: "desc";
  limit: number;
  offset: number;
  strategy_id?: string;
  coin?: string;
}

export interface TradeStoreOptions {
  /** GET /api/trades. */
  fetchTrades: (query: OlderQuery) => Promise<Trade[]>;
  /** The newest fills kept (unfiltered). */
  windowSize?: number;
  /** Fills asked for per older page. */
  pageSize?: number;
  /** Older fills kept at most while the blotter is scrolled into them. */
  maxOlder?: number;
}

export interface TradeView {
  /** The filtered fills, newest first: those of the window, then the older pages. */
  readonly rows: readonly Trade[];
  readonly filter: TradeFilter;
  /** Rows that come from the newest window (the rest are older pages). */
  readonly liveRows: number;
  readonly loadingOlder: boolean;
  /** The oldest fill of the session (for this filter) is in rows. */
  readonly exhausted: boolean;
  /** As many older fills are kept as the store holds: export the CSV for the rest. */
  readonly capped: boolean;
  /** Strategies and coins seen, for the filters' choices. */
  readonly strategies: readonly string[];
  readonly coins: readonly string[];
  /** Rows added at the top by the last change (the blotter keeps its place by them). */
  readonly prepended: number;
  /** Changes when the older pages or the filter change (not when new fills arrive). */
  readonly pages: number;
}

export class TradeStore {
  private readonly windowSize: number;
  private readonly pageSize: number;
  private readonly maxOlder: number;
  /** The newest fills, unfiltered, newest first. */
  private live: Trade[] = [];
  private liveFiltered: Trade[] = [];
  /** Older fills matching the filter, newest first, all older than `live`. */
  private older: Trade[] = [];
  /** The oldest id the older pages have reached, and how many server rows (by strategy and
   * coin) lie between it and the window: the offset of the next page. */
  private olderCursor: number | null = null;
  private olderExamined = 0;
  private filter: TradeFilter = NO_FILTER;
  private generation = 0;
  private pages = 0;
  /** The blotter is scrolled away from the newest: nothing leaves it until it comes back. */
  private holding = false;
  private loading = false;
  private exhausted = false;
  private readonly strategies = new Set<string>();
  private readonly coins = new Set<string>();
  private view: TradeView;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: TradeStoreOptions) {
    this.windowSize = options.windowSize ?? 5_000;
    this.pageSize = options.pageSize ?? 500;
    this.maxOlder = options.maxOlder ?? 20_000;
    this.view = this.makeView(0);
  }

  /** For useSyncExternalStore. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getView = (): TradeView => this.view;

  /** New fills from the stream, oldest first (one call per frame). */
  ingest(trades: readonly Trade[]): void {
    if (!trades.length) return;
    const newest: Trade[] = new Array(trades.length);
    for (let i = 0; i < trades.length; i++) {
      const trade = trades[trades.length - 1 - i];
      newest[i] = trade;
      if (!this.strategies.has(trade.strategy_id)) this.strategies.add(trade.strategy_id);
      if (!this.coins.has(trade.coin)) this.coins.add(trade.coin);
    }
    const added = newest.filter((trade) => matches(trade, this.filter));
    const all = newest.concat(this.live);
    this.live = all.length > this.windowSize ? all.slice(0, this.windowSize) : all;
    const oldestKept = this.live[this.live.length - 1].id;
    const merged = added.concat(this.liveFiltered);
    let end = merged.length;
    while (end > 0 && merged[end - 1].id < oldestKept) end--;
    this.liveFiltered = end === merged.length ? merged : merged.slice(0, end);
    if (this.browsingOlder() && all.length > this.windowSize) {
      // the blotter is in the older pages: what leaves the window joins them, so that they
      // stay contiguous with it
      const dropped = all.slice(this.windowSize);
      if (this.olderCursor === null) this.olderCursor = dropped[dropped.length - 1].id;
      this.older = dropped.filter((trade) => matches(trade, this.filter)).concat(this.older);
      this.olderExamined += dropped.filter((trade) => matchesServer(trade, this.filter)).length;
      if (this.older.length > this.maxOlder) {
        this.older = this.older.slice(0, this.maxOlder);
        this.olderCursor = this.older[this.older.length - 1].id;
        // fewer than were examined (a side filter keeps some of them only): the next page's
        // offset falls short, an overlap dropped by id, never a hole
        this.olderExamined = this.older.filter((trade) => matchesServer(trade, this.filter)).length;
        this.exhausted = false;
      }
    }
    this.publish(added.length);
  }

  private browsingOlder(): boolean {
    return this.holding || this.older.length > 0 || this.olderCursor !== null;
  }

  /** Keep what leaves the window (as older rows, up to their bound) while the blotter is
   * scrolled away from the newest fills, so the rows being read stay contiguous. */
  hold(on: boolean): void {
    this.holding = on;
  }

  setFilter(filter: TradeFilter): void {
    if (filter.strategy === this.filter.strategy && filter.coin === this.filter.coin
        && filter.side === this.filter.side) return;
    this.filter = filter;
    this.generation += 1;
    this.pages += 1;
    this.liveFiltered = this.live.filter((trade) => matches(trade, filter));
    this.resetOlder();
    this.publish(0);
  }

  /** Forget the older pages (the blotter is back at the top). */
  dropOlderPages(): void {
    if (!this.older.length && this.olderCursor === null) return;
    this.generation += 1;
    this.pages += 1;
    this.resetOlder();
    this.publish(0);
  }

  /** Forget the fills before `firstId` (a new session began: /api/trades serves its fills
   * only, as the metrics count them only). */
  dropBefore(firstId: number): void {
    if (!this.live.length || this.live[this.live.length - 1].id >= firstId) return;
    this.live = this.live.filter((trade) => trade.id >= firstId);
    this.liveFiltered = this.liveFiltered.filter((trade) => trade.id >= firstId);
    this.strategies.clear();
    this.coins.clear();
    for (const trade of this.live) {
      this.strategies.add(trade.strategy_id);
      this.coins.add(trade.coin);
    }
    this.generation += 1;
    this.pages += 1;
    this.resetOlder();
    this.publish(0);
  }

  /** Everything. */
  clear(): void {
    this.live = [];
    this.liveFiltered = [];
    this.generation += 1;
    this.resetOlder();
    this.publish(0);
  }

  private resetOlder(): void {
    this.older = [];
    this.olderCursor = null;
    this.olderExamined = 0;
    this.loading = false;
    this.exhausted = false;
  }

  /** The next older page, when the blotter is scrolled to the end of its rows. */
  async loadOlder(): Promise<void> {
    if (this.loading || this.exhausted || this.older.length >= this.maxOlder) return;
    const windowOldest = this.live.length ? this.live[this.live.length - 1].id : null;
    if (windowOldest === null) {
      this.exhausted = true;
      this.publish(0);
      return;
    }
    const generation = this.generation;
    const filter = this.filter;
    this.loading = true;
    this.publish(0);
    try {
      let cursor = this.olderCursor ?? windowOldest;
      // the window's fills (strategy and coin only: the server knows no side) are newer than
      // the cursor; counting them may fall short of the server's (fills newer than the
      // stream's last), never exceed it: an overlap, dropped by id, never a hole
      let offset = this.live.reduce((n, trade) => n + (matchesServer(trade, filter) ? 1 : 0), 0)
        + this.olderExamined;
      const found: Trade[] = [];
      let examined = 0;
      for (let attempt = 0; attempt < 20; attempt++) {
        const page = await this.options.fetchTrades({
          order: "desc", limit: this.pageSize, offset,
          ...(filter.strategy ? { strategy_id: filter.strategy } : {}),
          ...(filter.coin ? { coin: filter.coin } : {}),
        });
        if (generation !== this.generation) return;
        const below = page.filter((trade) => trade.id < cursor);
        examined += below.length;
        for (const trade of below) if (matches(trade, filter)) found.push(trade);
        if (below.length) cursor = below[below.length - 1].id;
        if (page.length < this.pageSize) {
          this.exhausted = true;
          break;
        }
        offset += page.length;
        if (found.length) break;
      }
      this.older = this.older.concat(found);
      this.olderCursor = cursor;
      this.pages += 1;
      this.olderExamined += examined;
    } finally {
      if (generation === this.generation) {
        this.loading = false;
        this.publish(0);
      }
    }
  }

  private makeView(prepended: number): TradeView {
    return {
      rows: this.older.length ? this.liveFiltered.concat(this.older) : this.liveFiltered,
      filter: this.filter,
      liveRows: this.liveFiltered.length,
      loadingOlder: this.loading,
      exhausted: this.exhausted,
      capped: this.older.length >= this.maxOlder,
      strategies: this.listed(this.strategies, this.view?.strategies),
      coins: this.listed(this.coins, this.view?.coins),
      prepended,
      pages: this.pages,
    };
  }

  /** The names in `seen`, sorted; the last list again when nothing changed (no new array
   * for the filters to re-render on each frame). */
  private listed(seen: Set<string>, last: readonly string[] | undefined): readonly string[] {
    if (last && last.length === seen.size && last.every((name) => seen.has(name))) return last;
    return [...seen].sort();
  }

  private publish(prepended: number): void {
    this.view = this.makeView(prepended);
    for (const listener of this.listeners) listener();
  }
}

/** The blotter's count: the session's fills matching the filter. The metrics count every
 * fill up to their last_trade_id (removed strategies' too); the fills after it are in the
 * window. A side filter has no figure in the metrics: the rows at hand, with "+" while
 * older ones remain. */
export function blotterCount(view: TradeView, metrics: Metrics | null): { count: number; more: boolean } {
  const { filter, rows } = view;
  if (!metrics || filter.side !== null) {
    return { count: rows.length, more: !view.exhausted && rows.length > 0 && filter.side !== null };
  }
  const last = metrics.global.last_trade_id ?? 0;
  let base: number;
  if (filter.strategy !== null) {
    const entry = metrics.strategies[filter.strategy];
    if (!entry) return { count: rows.length, more: !view.exhausted };
    if (filter.coin !== null && entry.coin !== filter.coin) return { count: 0, more: false };
    base = entry.total_trades;
  } else if (filter.coin !== null) {
    base = Object.values(metrics.strategies)
      .filter((entry) => entry.coin === filter.coin)
      .reduce((n, entry) => n + entry.total_trades, 0);
  } else {
    base = metrics.global.total_trades;
  }
  let newer = 0;
  while (newer < view.liveRows && rows[newer].id > last) newer++;
  return { count: base + newer, more: false };
}
