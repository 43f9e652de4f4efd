// Per-coin candles (GET /api/candles/{coin}) with the fills marked at their bars: an arrow
// up below the bar for buys, down above it for sells: one per bar and side, however many fills
// it holds. Bars are merged from a two-bar poll each second and the markers are set again only
// when a bar gets its first buy or sell, so a fast market costs the chart about one redraw a
// second, not one per fill (a count on each marker changed them with every fill: a redraw of
// the chart twice a second, up to 130 ms each on a busy machine).
import {
  CandlestickSeries, createChart, createSeriesMarkers,
  type IChartApi, type ISeriesApi, type ISeriesMarkersPluginApi, type SeriesMarker, type Time, type UTCTimestamp,
} from "lightweight-charts";
import { memo, useEffect, useRef, useState } from "react";
import { ApiError, api } from "../lib/api";
import type { Candles, Trade } from "../lib/types";
import { CHART_OPTIONS, DOWN, UP } from "./chartTheme";
import type { LiveHub } from "./hub";

const BARS = 1440;
const POLL_MS = 1_000;
const MARKERS_MS = 1_000;

interface BarFills { buys: number; sells: number }

/** 60 -> "1m", 3600 -> "1h", 86400 -> "1d". */
export function intervalLabel(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}d`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

export const CandleChart = memo(function CandleChart({ hub, coins, running }: {
  hub: LiveHub;
  coins: string[];
  running: boolean;
}) {
  const [coin, setCoin] = useState(coins[0] ?? "BTC");
  const [note, setNote] = useState("");
  const [barSeconds, setBarSeconds] = useState(60);
  const [empty, setEmpty] = useState(true);
  const holder = useRef<HTMLDivElement>(null);
  const chart = useRef<{ chart: IChartApi; series: ISeriesApi<"Candlestick">; markers: ISeriesMarkersPluginApi<Time> } | null>(null);
  const shown = coins.includes(coin) ? coin : coins[0] ?? coin;
  const runningRef = useRef(running);
  runningRef.current = running;

  useEffect(() => {
    const element = holder.current!;
    const made = createChart(element, CHART_OPTIONS);
    const series = made.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    });
    chart.current = { chart: made, series, markers: createSeriesMarkers(series, []) };
    return () => {
      chart.current = null;
      made.remove();
    };
  }, []);

  // the coin's bars and fills: loaded when it is chosen, then kept current
  useEffect(() => {
    const parts = chart.current;
    const element = holder.current;
    if (!parts || !element) return;
    let cancelled = false;
    let interval = 60;
    const barTimes = new Set<number>();
    let firstBar = Infinity;
    let lastBar = -Infinity;
    const fills = new Map<number, BarFills>();
    let markersDue = false;

    parts.series.setData([]);
    parts.markers.setMarkers([]);
    element.dataset.bars = "0";
    element.dataset.markers = "0";
    setNote("");

    const addFills = (trades: readonly Trade[]) => {
      for (const trade of trades) {
        if (trade.coin !== shown) continue;
        const bar = Math.floor(trade.timestamp / interval) * interval;
        let entry = fills.get(bar);
        if (!entry) fills.set(bar, entry = { buys: 0, sells: 0 });
        if (trade.action === "BUY") {
          if (!entry.buys++) markersDue = true;
        } else if (!entry.sells++) {
          markersDue = true;
        }
      }
    };

    const drawMarkers = () => {
      if (!markersDue || cancelled) return;
      markersDue = false;
      const markers: SeriesMarker<Time>[] = [];
      for (const bar of [...fills.keys()].sort((a, b) => a - b)) {
        if (bar < firstBar) {
          fills.delete(bar);
          continue;
        }
        if (!barTimes.has(bar)) continue; // drawn when its bar arrives
        const entry = fills.get(bar)!;
        const time = bar as UTCTimestamp;
        if (entry.buys) markers.push({ time, position: "belowBar", shape: "arrowUp", color: UP });
        if (entry.sells) markers.push({ time, position: "aboveBar", shape: "arrowDown", color: DOWN });
      }
      parts.markers.setMarkers(markers);
      element.dataset.markers = String(markers.length);
    };

    const mergeBars = (candles: Candles, replace: boolean) => {
      interval = candles.interval || 60;
      setBarSeconds(interval);
      const bars = candles.time.map((time, i) => ({
        time: time as UTCTimestamp, open: candles.open[i], high: candles.high[i],
        low: candles.low[i], close: candles.close[i],
      }));
      if (replace) {
        parts.series.setData(bars);
        barTimes.clear();
        bars.forEach((bar) => barTimes.add(bar.time));
        firstBar = bars.length ? bars[0].time : Infinity;
        lastBar = bars.length ? bars[bars.length - 1].time : -Infinity;
      } else {
        for (const bar of bars) {
          if (bar.time < lastBar) continue;
          parts.series.update(bar);
          if (!barTimes.has(bar.time)) {
            barTimes.add(bar.time);
            markersDue = true;
          }
          lastBar = bar.time;
          if (!Number.isFinite(firstBar)) firstBar = bar.time;
        }
      }
      element.dataset.bars = String(barTimes.size);
      setEmpty(barTimes.size === 0);
    };

    const detach = hub.onFills(addFills);
    let loading = true;
    let absent = false;
    const load = async () => {
      try {
        const candles = await api.get<Candles>(`/api/candles/${encodeURIComponent(shown)}`, { limit: BARS });
        if (cancelled) return;
        mergeBars(candles, true);
        if (candles.time.length) {
          const older = await api.get<Trade[]>("/api/trades", {
            coin: shown, since: candles.time[0], order: "desc", limit: 10_000,
          });
          if (cancelled) return;
          addFills(older);
          drawMarkers();
        }
      } catch (error) {
        if (cancelled) return;
        absent = error instanceof ApiError && error.status === 404;
        setNote(error instanceof ApiError && error.status === 404
          ? "Candles are not served by this server yet." : `Candles: ${(error as Error).message}`);
      } finally {
        loading = false;
      }
    };
    // the newest bars each second while the engine runs
    const poll = async () => {
      if (!runningRef.current || loading || absent) return;
      try {
        let candles = await api.get<Candles>(`/api/candles/${encodeURIComponent(shown)}`, { limit: 2 });
        // a replay faster than the poll skipped bars, or the chart holds twice what it loads:
        // load the whole window again (bounded, and without holes)
        const skipped = candles.time.length && barTimes.size
          && candles.time[0] > lastBar + (candles.interval || interval);
        const replace = !barTimes.size || skipped || barTimes.size > 2 * BARS;
        if (replace && !cancelled) {
          candles = await api.get<Candles>(`/api/candles/${encodeURIComponent(shown)}`, { limit: BARS });
        }
        if (!cancelled) {
          mergeBars(candles, Boolean(replace));
          if (replace) {
            markersDue = true;
            drawMarkers();
          }
        }
      } catch {
        // the next poll tries again
      }
    };
    void load();
    const markersTimer = window.setInterval(drawMarkers, MARKERS_MS);
    const pollTimer = window.setInterval(() => void poll(), POLL_MS);
    return () => {
      cancelled = true;
      detach();
      window.clearInterval(markersTimer);
      window.clearInterval(pollTimer);
    };
  }, [hub, shown]);

  return (
    <section role="region" aria-label="Chart" className="panel chart-panel">
      <h2 className="panel-title">
        Chart
        <span className="coin-tabs" role="group" aria-label="Chart coin">
          {coins.map((c) => (
            <button key={c} type="button" className={`tab ${c === shown ? "on" : ""}`}
                    aria-pressed={c === shown} onClick={() => setCoin(c)}>{c}</button>
          ))}
        </span>
        <span className="muted">{intervalLabel(barSeconds)}</span>
        {note && <span className="muted note">{note}</span>}
      </h2>
      <div className="chart-holder" ref={holder} data-testid="candle-chart" data-bars="0" data-markers="0">
        {empty && !note && <p className="chart-empty muted">No bars for {shown} yet: they come with the engine's prices.</p>}
      </div>
    </section>
  );
});
