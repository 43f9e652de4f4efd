// P&L over time, per strategy and in total: /api/pnl-history (each strategy's equity,
// realised and open, at the engine's sample times), then one point a second from the metrics.
import { LineSeries, createChart, type IChartApi, type ISeriesApi, type UTCTimestamp } from "lightweight-charts";
import { memo, useEffect, useRef, useState } from "react";
import { api } from "../lib/api";
import type { Metrics } from "../lib/types";
import { CHART_OPTIONS, LINES } from "./chartTheme";
import type { LiveHub } from "./hub";

interface PnlPoint { timestamp: number; strategy_id: string; pnl: number; position: number }

const TOTAL = "Total";

/** Points to one per second, the last of each second (a chart's times must grow). */
function perSecond(points: { time: number; value: number }[]) {
  const out: { time: UTCTimestamp; value: number }[] = [];
  for (const point of points) {
    const time = Math.floor(point.time) as UTCTimestamp;
    if (out.length && out[out.length - 1].time === time) out[out.length - 1].value = point.value;
    else if (!out.length || out[out.length - 1].time < time) out.push({ time, value: point.value });
  }
  return out;
}

export const PnlChart = memo(function PnlChart({ hub, sessionId }: { hub: LiveHub; sessionId: number | null }) {
  const holder = useRef<HTMLDivElement>(null);
  const [legend, setLegend] = useState<{ name: string; color: string }[]>([]);

  useEffect(() => {
    const element = holder.current!;
    const chart: IChartApi = createChart(element, {
      ...CHART_OPTIONS,
      timeScale: { borderColor: "#2a2e39", timeVisible: true, secondsVisible: true },
      localization: { priceFormatter: (value: number) => value.toFixed(2) },
    });
    const series = new Map<string, { line: ISeriesApi<"Line">; last: number }>();
    let cancelled = false;
    let loaded = false;

    const lineOf = (name: string) => {
      let entry = series.get(name);
      if (!entry) {
        const total = name === TOTAL;
        const color = total ? "#d1d4dc" : LINES[(series.size - (series.has(TOTAL) ? 1 : 0)) % LINES.length];
        entry = {
          line: chart.addSeries(LineSeries, {
            color, lineWidth: total ? 2 : 1, title: total ? "Total" : "", priceLineVisible: false,
            lastValueVisible: total,
          }),
          last: -Infinity,
        };
        series.set(name, entry);
        setLegend((old) => [...old, { name, color }]);
      }
      return entry;
    };

    const load = async () => {
      try {
        const points = await api.get<PnlPoint[]>("/api/pnl-history", { limit: 10_000 });
        if (cancelled) return;
        const byStrategy = new Map<string, { time: number; value: number }[]>();
        const latest = new Map<string, number>();
        const totals: { time: number; value: number }[] = [];
        for (const point of points) {
          let list = byStrategy.get(point.strategy_id);
          if (!list) byStrategy.set(point.strategy_id, list = []);
          list.push({ time: point.timestamp, value: point.pnl });
          latest.set(point.strategy_id, point.pnl);
          let sum = 0;
          for (const value of latest.values()) sum += value;
          totals.push({ time: point.timestamp, value: sum });
        }
        for (const [name, list] of [[TOTAL, totals] as const, ...byStrategy.entries()]) {
          const data = perSecond(list);
          const entry = lineOf(name);
          entry.line.setData(data);
          entry.last = data.length ? data[data.length - 1].time : -Infinity;
        }
        chart.timeScale().fitContent();
      } catch {
        // an empty chart until the metrics bring points
      } finally {
        loaded = true;
      }
    };

    // one point a second: each update redraws the chart
    let lastDrawn = 0;
    const take = (metrics: Metrics | null) => {
      if (!metrics || !loaded || metrics.global.status !== "running") return;
      const now = performance.now();
      if (now - lastDrawn < 1000) return;
      lastDrawn = now;
      const clock = metrics.global.clock?.time;
      const time = Math.floor(clock ?? Date.now() / 1000) as UTCTimestamp;
      const add = (name: string, value: number | null | undefined) => {
        if (value === null || value === undefined || !Number.isFinite(value)) return;
        const entry = lineOf(name);
        if (time < entry.last) return;
        entry.line.update({ time, value });
        entry.last = time;
      };
      add(TOTAL, (metrics.global.net_pnl ?? 0) + (metrics.global.unrealized_pnl ?? 0));
      for (const entry of Object.values(metrics.strategies)) {
        add(entry.strategy_id, (entry.net_pnl ?? 0) + (entry.unrealized_pnl ?? 0));
      }
    };

    setLegend([]);
    void load();
    const unsubscribe = hub.metrics.subscribe(() => take(hub.metrics.get()));
    return () => {
      cancelled = true;
      unsubscribe();
      chart.remove();
    };
  }, [hub, sessionId]);

  return (
    <section role="region" aria-label="P&L" className="panel pnl-panel">
      <h2 className="panel-title">
        P&amp;L
        <span className="legend">
          {legend.map((item) => (
            <span key={item.name} className="legend-item">
              <i style={{ background: item.color }} />{item.name}
            </span>
          ))}
        </span>
      </h2>
      <div className="chart-holder" ref={holder} data-testid="pnl-chart" />
    </section>
  );
});
