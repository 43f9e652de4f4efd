// The live page: what the window shows, over the REST and WebSocket contract. The hub holds
// the connections; each panel subscribes to the part it shows.
import { Suspense, lazy, useCallback, useEffect, useMemo, useState } from "react";
import { count } from "../lib/format";
import type { EngineStatusName } from "../lib/types";
import { Blotter } from "./Blotter";
import { Connection } from "./Connection";
import { EngineBar } from "./EngineBar";
import { LiveHub, useObservable } from "./hub";
import { KpiStrip } from "./KpiStrip";
import { LogPanel } from "./LogPanel";
import { StrategiesPanel } from "./StrategiesPanel";
import "./live.css";

const DEFAULT_COINS = ["BTC", "ETH"];

// The charts (lightweight-charts, ~50 KB gzipped, 175 KB of script to compile) load once the
// first figures are painted: the KPIs and the strategies do not wait for them, nor share the
// main thread with them while a busy engine makes the page's first replies slow
const CandleChart = lazy(() => import("./CandleChart").then((m) => ({ default: m.CandleChart })));
const PnlChart = lazy(() => import("./PnlChart").then((m) => ({ default: m.PnlChart })));

function ChartPlaceholder({ name, className }: { name: string; className: string }) {
  return (
    <section role="region" aria-label={name} aria-busy="true" className={`panel ${className}`}>
      <h2 className="panel-title">{name}</h2>
    </section>
  );
}

export function LivePage() {
  const [hub] = useState(() => new LiveHub());
  useEffect(() => {
    hub.start();
    return () => hub.stop();
  }, [hub]);

  const metrics = useObservable(hub.metrics);
  const engine = useObservable(hub.engine);
  const metricsLink = useObservable(hub.metricsConnection);
  const global = metrics?.global ?? null;
  const status: EngineStatusName = global?.status ?? engine?.status ?? "stopped";
  const strategies = useMemo(() => metrics?.strategies ?? {}, [metrics]);
  // the ids as one string first: a new metrics snapshot (twice a second) with the same
  // strategies must not re-render the blotter
  const idsKey = Object.keys(strategies).join("\n");
  const strategyIds = useMemo(() => (idsKey ? idsKey.split("\n") : []), [idsKey]);

  // the engine's coins, else those the strategies trade, else the default start's
  const coinsKey = [
    ...(global?.coins?.length ? global.coins : engine?.coins?.length ? engine.coins : []),
    ...Object.values(strategies).map((s) => s.coin),
  ].filter((c, i, all) => all.indexOf(c) === i).join(",");
  const coins = useMemo(() => (coinsKey ? coinsKey.split(",") : DEFAULT_COINS), [coinsKey]);

  const [chartsOn, setChartsOn] = useState(false);
  const firstFigures = metrics !== null;
  useEffect(() => {
    if (chartsOn) return;
    // after the frame that paints the first figures; at the latest after 1.5 s (a server that
    // sends none still gets its charts)
    let frame = 0;
    const later = window.setTimeout(() => setChartsOn(true), firstFigures ? 0 : 1500);
    if (firstFigures) frame = requestAnimationFrame(() => setChartsOn(true));
    return () => {
      window.clearTimeout(later);
      cancelAnimationFrame(frame);
    };
  }, [chartsOn, firstFigures]);

  const changed = useCallback(() => {
    void hub.refresh();
    void hub.refreshEngine();
  }, [hub]);

  return (
    <section aria-label="Live trading" className="live">
      <KpiStrip global={global} stale={metricsLink.kind === "reconnecting"} />
      <div className="live-bar">
        <EngineBar status={status} engine={engine} onChanged={changed} />
        <Connection hub={hub} />
      </div>
      <div className="live-grid">
        <div className="live-col">
          {chartsOn ? (
            <>
              <Suspense fallback={<ChartPlaceholder name="Chart" className="chart-panel" />}>
                <CandleChart hub={hub} coins={coins} running={status === "running" || status === "paused"} />
              </Suspense>
              <Suspense fallback={<ChartPlaceholder name="P&L" className="pnl-panel" />}>
                <PnlChart hub={hub} sessionId={global?.session_id ?? null} />
              </Suspense>
            </>
          ) : (
            <>
              <ChartPlaceholder name="Chart" className="chart-panel" />
              <ChartPlaceholder name="P&L" className="pnl-panel" />
            </>
          )}
        </div>
        <div className="live-col">
          <StrategiesPanel strategies={strategies} coins={coins} onChanged={changed} />
          <Blotter hub={hub} strategies={strategyIds} />
        </div>
      </div>
      <LogPanel hub={hub} />
      <StatusLine hub={hub} status={status} />
    </section>
  );
}

function StatusLine({ hub, status }: { hub: LiveHub; status: EngineStatusName }) {
  const metrics = useObservable(hub.metrics);
  const log = useObservable(hub.log);
  const engine = useObservable(hub.engine);
  const global = metrics?.global;
  const feed = global?.feed ?? engine?.feed;
  const newest = log[log.length - 1];
  const message = engine?.message || global?.journal?.message;
  return (
    <footer className="statusbar live-status" aria-label="Status">
      <span className={`status-${status}`}>{status.toUpperCase()}</span>
      <span className="num">{count(global?.ticks_per_second ?? 0)} ticks/s</span>
      {feed && <span title={feed.message}>feed {feed.state}{feed.message ? `: ${feed.message}` : ""}</span>}
      {message && <span className="warn">{message}</span>}
      <span className="grow" title={newest?.message}>{newest ? newest.message : ""}</span>
    </footer>
  );
}
