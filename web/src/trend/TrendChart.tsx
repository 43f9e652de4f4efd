// The chosen timeframe's candles (lightweight-charts) with what the analyzer found on them:
// each support and resistance level a dashed line in the theme's gain and loss colours, the
// log-price regression line and its channel, and a marker at each breakout's bar.
import {
  CandlestickSeries, createChart, createSeriesMarkers, LineSeries, LineStyle,
  type IChartApi, type IPriceLine, type ISeriesApi, type ISeriesMarkersPluginApi, type Time, type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef } from "react";
import { CHART_OPTIONS, DOWN, LINES, UP } from "../live/chartTheme";
import { breakoutMarkers, chartBars, levelLines, trendLinePoints } from "./report";
import type { TimeframeReport } from "./types";

const TREND_COLOUR = LINES[1]; // --line-2, apart from the candles' and the levels' colours
// bars in view when a timeframe opens: the last 250 hold the regression's 100 and the recent
// swings the levels come from, where all 2,000 squeezed the levels into a few pixels; the
// rest is a scroll or a zoom away
const IN_VIEW = 250;

interface Parts {
  chart: IChartApi;
  candles: ISeriesApi<"Candlestick">;
  middle: ISeriesApi<"Line">;
  upper: ISeriesApi<"Line">;
  lower: ISeriesApi<"Line">;
  markers: ISeriesMarkersPluginApi<Time>;
  lines: IPriceLine[];
}

/** Decimals the price scale needs: 2 for 64,123.50, 6 for 0.012345 (lib/format.ts price). */
function precision(last: number | undefined): number {
  if (!last || !(last > 0)) return 2;
  return Math.min(8, Math.max(2, 4 - Math.floor(Math.log10(last))));
}

export function TrendChart({ timeframe, view }: {
  timeframe: TimeframeReport | null;
  /** What is drawn (source and timeframe): the view goes to the newest bars when it changes,
   * and stays where the trader scrolled when the same report is read again (a live coin). */
  view: string;
}) {
  const holder = useRef<HTMLDivElement>(null);
  const parts = useRef<Parts | null>(null);
  const shownView = useRef("");

  useEffect(() => {
    const chart = createChart(holder.current!, CHART_OPTIONS);
    const candles = chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
    });
    const line = (style: LineStyle, width: 1 | 2) => chart.addSeries(LineSeries, {
      color: TREND_COLOUR, lineWidth: width, lineStyle: style, priceLineVisible: false,
      lastValueVisible: false, crosshairMarkerVisible: false,
    });
    parts.current = {
      chart, candles, middle: line(LineStyle.Solid, 2), upper: line(LineStyle.Dashed, 1),
      lower: line(LineStyle.Dashed, 1), markers: createSeriesMarkers(candles, []), lines: [],
    };
    return () => {
      parts.current = null;
      chart.remove();
    };
  }, []);

  useEffect(() => {
    const p = parts.current;
    const element = holder.current;
    if (!p || !element) return;
    const bars = chartBars(timeframe?.candles).map((bar) => ({ ...bar, time: bar.time as UTCTimestamp }));
    const times = timeframe?.candles?.time ?? [];
    const digits = precision(bars[bars.length - 1]?.close);
    p.candles.applyOptions({ priceFormat: { type: "price", precision: digits, minMove: 10 ** -digits } });
    p.candles.setData(bars);

    p.lines.forEach((line) => p.candles.removePriceLine(line));
    const levels = levelLines(timeframe?.levels);
    p.lines = levels.map((level) => p.candles.createPriceLine({
      price: level.price, color: level.kind === "support" ? UP : DOWN, lineWidth: 1,
      lineStyle: LineStyle.Dashed, axisLabelVisible: true, title: level.title,
    }));

    const trend = trendLinePoints(timeframe?.trend_line, times);
    const asLine = (points: { time: number; value: number }[]) =>
      points.map(({ time, value }) => ({ time: time as UTCTimestamp, value }));
    p.middle.setData(asLine(trend.middle));
    p.upper.setData(asLine(trend.upper));
    p.lower.setData(asLine(trend.lower));

    const markers = breakoutMarkers(timeframe?.breakouts, times);
    p.markers.setMarkers(markers.map((m) => ({
      time: m.time as UTCTimestamp, text: m.text, color: m.direction === "up" ? UP : DOWN,
      position: m.direction === "up" ? "belowBar" as const : "aboveBar" as const,
      shape: m.direction === "up" ? "arrowUp" as const : "arrowDown" as const,
    })));
    if (view !== shownView.current && bars.length) {
      shownView.current = view;
      if (bars.length > IN_VIEW) p.chart.timeScale().setVisibleLogicalRange({ from: bars.length - IN_VIEW, to: bars.length + 2 });
      else p.chart.timeScale().fitContent();
    }

    element.dataset.bars = String(bars.length);
    element.dataset.levels = String(levels.length);
    element.dataset.trendPoints = String(trend.middle.length);
    element.dataset.markers = String(markers.length);
  }, [timeframe, view]);

  const empty = !timeframe ? "Analyze a bar file or a live coin to see its chart."
    : !timeframe.candles?.time.length ? `${timeframe.timeframe}: ${timeframe.message || "no bars to draw"}` : "";
  return (
    <div className="chart-holder">
      {/* the chart's own element: React adds nothing to it, so a message coming and going
          never takes the chart's canvases with it */}
      <div className="chart-canvas" ref={holder} data-testid="trend-chart" data-bars="0" data-levels="0"
           data-trend-points="0" data-markers="0" />
      {empty && <p className="chart-empty muted">{empty}</p>}
    </div>
  );
}
