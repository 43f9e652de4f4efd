// The trades blotter: the newest fills first, virtualised (only the rows in view exist in the
// page), filters, the count, and a CSV export of every filtered fill of the session. New
// fills re-render the few rows in view, at most 8 times a second; each row is memoised by its
// fill. Scrolled down, it holds still and counts the fills that came since.
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useLayoutEffect, useRef, useState } from "react";
import { api } from "../lib/api";
import { count, money, price, quantity, signClass, sideClass, amount, utc } from "../lib/format";
import { blotterCount, matches, type Side, type TradeFilter, type TradeStore, type TradeView } from "../lib/tradeStore";
import type { Trade } from "../lib/types";
import { useObservable, type LiveHub } from "./hub";

const ROW_HEIGHT = 22;
/** Rows from the end of those at hand at which the next older page is asked for. */
const NEAR_END = 40;

const COLUMNS = ["Time (UTC)", "ID", "Strategy", "Coin", "Side", "Price", "Qty", "Realised P&L", "Position", "Fee"];

/** Fills in `latest` newer than the newest `shown` has. */
function countNewer(latest: TradeView, shown: TradeView): number {
  const top = shown.rows.length ? shown.rows[0].id : -1;
  let n = 0;
  while (n < latest.liveRows && latest.rows[n].id > top) n++;
  return n;
}

/** The date part of the time column (shown when the blotter is wide enough). */
function day(seconds: number): string {
  return utc(seconds, false).slice(0, 11);
}

const Row = memo(function Row({ trade }: { trade: Trade }) {
  return (
    <div role="row" className="brow" data-trade-id={trade.id}>
      <span role="cell" className="num" title={utc(trade.timestamp)}><span className="day">{day(trade.timestamp)}</span>{utc(trade.timestamp).slice(11)}</span>
      <span role="cell" className="num">{trade.id}</span>
      <span role="cell" className="ellipsis">{trade.strategy_id}</span>
      <span role="cell">{trade.coin}</span>
      <span role="cell" className={sideClass(trade.action)}>{trade.action}</span>
      <span role="cell" className="num">{price(trade.price)}</span>
      <span role="cell" className="num">{quantity(trade.quantity)}</span>
      <span role="cell" className={`num ${signClass(trade.profit_loss)}`}>
        {trade.profit_loss ? money(trade.profit_loss) : ""}
      </span>
      <span role="cell" className="num">{quantity(trade.position_size)}</span>
      <span role="cell" className="num">{amount(trade.fee)}</span>
    </div>
  );
});

/** The store's view, re-rendered at most every `ms`: a frame of fills replaces nearly every
 * row in view at 2,000 fills/s, and nobody reads a blotter 60 times a second; at 8 a second
 * the page's layout and paint work fell by ~7x. The first change after a quiet spell shows
 * at once. */
function useThrottledView(store: TradeStore, ms: number): TradeView {
  const [view, setView] = useState(store.getView);
  useEffect(() => {
    let last = 0;
    let timer: number | null = null;
    const show = () => {
      timer = null;
      last = performance.now();
      setView(store.getView());
    };
    const unsubscribe = store.subscribe(() => {
      if (timer !== null) return;
      const wait = last + ms - performance.now();
      if (wait <= 0) show();
      else timer = window.setTimeout(show, wait);
    });
    setView(store.getView());
    return () => {
      unsubscribe();
      if (timer !== null) window.clearTimeout(timer);
    };
  }, [store, ms]);
  return view;
}

const SHOWN_EVERY_MS = 125;

function BlotterCount({ hub, view }: { hub: LiveHub; view: TradeView }) {
  const metrics = useObservable(hub.metrics);
  const { count: n, more } = blotterCount(view, metrics);
  return <span className="muted num" data-testid="blotter-count">{count(n)}{more ? "+" : ""} trades</span>;
}

export const Blotter = memo(function Blotter({ hub, strategies }: { hub: LiveHub; strategies: string[] }) {
  const latest = useThrottledView(hub.store, SHOWN_EVERY_MS);
  const scroller = useRef<HTMLDivElement>(null);
  // scrolled away from the newest fills, the blotter holds still: it shows what it showed
  // (rows being read do not slide away at 2,000 fills a second) and says how many came since;
  // older pages loaded meanwhile, or a new filter, are taken in at once
  const [paused, setPaused] = useState(false);
  const [view, setView] = useState(latest);
  useEffect(() => {
    setView((shown) => (!paused || latest.pages !== shown.pages || latest.loadingOlder !== shown.loadingOlder
      || latest.exhausted !== shown.exhausted ? latest : shown));
  }, [latest, paused]);
  const newer = paused ? countNewer(latest, view) : 0;
  const [exporting, setExporting] = useState("");
  const rows = view.rows;

  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (index) => rows[index]?.id ?? index,
  });

  // new fills go on top: a blotter scrolled down keeps its rows in place. The offset is
  // kept from the scroll events: reading scrollTop after a commit forces a layout, which
  // took 17% of the main thread at 2,000 fills/s
  const scrolledTo = useRef(0);
  const shownTop = useRef<number | null>(null);
  useLayoutEffect(() => {
    const element = scroller.current;
    const before = shownTop.current;
    shownTop.current = rows.length ? rows[0].id : null;
    if (!element || scrolledTo.current <= 0 || before === null || !rows.length || rows[0].id === before) return;
    let prepended = 0;
    while (prepended < rows.length && rows[prepended].id > before) prepended++;
    if (prepended < rows.length) {
      scrolledTo.current += prepended * ROW_HEIGHT;
      element.scrollTop = scrolledTo.current;
    }
  }, [rows]);

  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : 0;
  const firstIndex = items.length ? items[0].index : 0;
  useEffect(() => {
    if (!rows.length) return;
    if (lastIndex >= rows.length - NEAR_END && !view.loadingOlder && !view.exhausted) void hub.store.loadOlder();
    else if (rows.length > view.liveRows && lastIndex < view.liveRows - NEAR_END && firstIndex < view.liveRows) {
      hub.store.dropOlderPages();
    }
  }, [hub, lastIndex, firstIndex, rows.length, view.liveRows, view.loadingOlder, view.exhausted]);

  const filter = view.filter;
  const setFilter = (change: Partial<TradeFilter>) => hub.store.setFilter({ ...filter, ...change });
  const strategyChoices = [...new Set([...strategies, ...view.strategies])].sort();

  const exportCsv = async () => {
    setExporting("Exporting…");
    try {
      const lines = ["id,time_utc,timestamp,strategy_id,coin,side,price,quantity,realised_pnl,position,fee\n"];
      let after = 0;
      let total = 0;
      for (;;) {
        const page = await api.get<Trade[]>("/api/trades", {
          after_id: after, limit: 10_000, order: "asc",
          strategy_id: filter.strategy ?? undefined, coin: filter.coin ?? undefined,
        });
        for (const t of page) {
          if (!matches(t, filter)) continue;
          total += 1;
          lines.push(`${t.id},${utc(t.timestamp)},${t.timestamp},${t.strategy_id},${t.coin},${t.action},` +
                     `${t.price},${t.quantity},${t.profit_loss},${t.position_size},${t.fee}\n`);
        }
        if (page.length < 10_000) break;
        after = page[page.length - 1].id;
        setExporting(`Exporting… ${count(total)}`);
      }
      const session = hub.metrics.get()?.global.session_id ?? "live";
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob(lines, { type: "text/csv" }));
      link.download = `velocitas-trades-${session}.csv`;
      document.body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      setExporting("");
    } catch (error) {
      setExporting(`Export failed: ${(error as Error).message}`);
    }
  };

  return (
    <section role="region" aria-label="Trades" className="panel blotter">
      <h2 className="panel-title">
        Trades <BlotterCount hub={hub} view={latest} />
        <span className="spacer" />
        <label className="sr-only" htmlFor="filter-strategy">Strategy filter</label>
        <select id="filter-strategy" className="small" value={filter.strategy ?? ""}
                onChange={(event) => setFilter({ strategy: event.target.value || null })}>
          <option value="">All strategies</option>
          {strategyChoices.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <label className="sr-only" htmlFor="filter-coin">Coin filter</label>
        <select id="filter-coin" className="small" value={filter.coin ?? ""}
                onChange={(event) => setFilter({ coin: event.target.value || null })}>
          <option value="">All coins</option>
          {view.coins.map((c) => <option key={c} value={c}>{c}</option>)}
        </select>
        <label className="sr-only" htmlFor="filter-side">Side filter</label>
        <select id="filter-side" className="small" value={filter.side ?? ""}
                onChange={(event) => setFilter({ side: (event.target.value || null) as Side | null })}>
          <option value="">All</option>
          <option value="BUY">BUY</option>
          <option value="SELL">SELL</option>
        </select>
        <button type="button" className="small" onClick={() => void exportCsv()} disabled={exporting.startsWith("Exporting")}>
          Export CSV
        </button>
        {exporting && <span className="muted" role="status">{exporting}</span>}
      </h2>
      {paused && (
        <button type="button" className="newer" onClick={() => {
          if (scroller.current) scroller.current.scrollTop = 0;
        }}>
          {newer ? `${count(newer)}${newer >= latest.liveRows ? "+" : ""} new fills` : "Paused"} · back to the newest
        </button>
      )}
      <div role="table" aria-label="Fills" aria-rowcount={rows.length + 1} className="btable">
        <div role="rowgroup" className="bhead">
          <div role="row" className="brow head">
            {COLUMNS.map((title, i) => (
              <span key={title} role="columnheader" className={i === 0 || i === 1 || i >= 5 ? "num" : ""}>{title}</span>
            ))}
          </div>
        </div>
        <div role="rowgroup" className="bbody" ref={scroller} tabIndex={0} aria-label="Fills, newest first"
             onScroll={(event) => {
               scrolledTo.current = event.currentTarget.scrollTop;
               const away = scrolledTo.current > ROW_HEIGHT;
               if (away !== paused) {
                 hub.store.hold(away);
                 setPaused(away);
               }
             }}>
          {/* rows in flow below a spacer: a new fill moves no row's props, so the memo holds */}
          <div style={{ height: virtualizer.getTotalSize(), paddingTop: items[0]?.start ?? 0 }}>
            {items.map((item) => {
              const trade = rows[item.index];
              return trade ? <Row key={trade.id} trade={trade} /> : null;
            })}
          </div>
          {!rows.length && <p className="muted empty">No fills yet.</p>}
          {view.loadingOlder && <p className="muted loading">Loading older fills…</p>}
          {view.capped && <p className="muted loading">Older fills: export the CSV.</p>}
        </div>
      </div>
    </section>
  );
});
