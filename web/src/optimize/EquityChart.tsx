// The selected row's equity over the whole bar file (lightweight-charts): in sample in the
// first line colour, out of sample in the second, the cut marked, the starting cash dashed.
import {
  ColorType, createChart, createSeriesMarkers, LineSeries, LineStyle, type IChartApi,
  type ISeriesApi, type LineData, type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef } from "react";

export const IN_SAMPLE_COLOUR = "#2962ff";     // --line-1
export const OUT_OF_SAMPLE_COLOUR = "#ff9800"; // --line-2

/** The curve as the chart takes it: strictly rising times, each point coloured by the window
 * it is in. An equity one point longer than the times starts from the cash before the first
 * bar, which the chart cannot place: it is dropped. */
export function equityPoints(time: number[], equity: number[], split: number | null): LineData<UTCTimestamp>[] {
  const offset = equity.length === time.length + 1 ? 1 : 0;
  const points: LineData<UTCTimestamp>[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < time.length && i + offset < equity.length; i += 1) {
    const t = time[i];
    const value = equity[i + offset];
    if (!(t > last) || !Number.isFinite(value)) continue;
    last = t;
    points.push({
      time: t as UTCTimestamp, value,
      color: split !== null && t >= split ? OUT_OF_SAMPLE_COLOUR : IN_SAMPLE_COLOUR,
    });
  }
  return points;
}

interface Props {
  time: number[];
  equity: number[];
  split: number | null;
  cash: number;
}

export function EquityChart({ time, equity, split, cash }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApi | null>(null);
  const series = useRef<ISeriesApi<"Line"> | null>(null);

  useEffect(() => {
    if (!box.current) return undefined;
    const created = createChart(box.current, {
      autoSize: true,
      layout: { background: { type: ColorType.Solid, color: "#171b26" }, textColor: "#b2b5be", fontSize: 11 },
      grid: { vertLines: { color: "rgba(42, 46, 57, 0.6)" }, horzLines: { color: "rgba(42, 46, 57, 0.6)" } },
      rightPriceScale: { borderColor: "#2a2e39" },
      // a whole file in view: 5,000 hourly bars need far less than the default 0.5 px a bar
      timeScale: { borderColor: "#2a2e39", timeVisible: true, secondsVisible: false, minBarSpacing: 0.01 },
      crosshair: { vertLine: { color: "#787b86" }, horzLine: { color: "#787b86" } },
    });
    chart.current = created;
    series.current = created.addSeries(LineSeries, {
      color: IN_SAMPLE_COLOUR, lineWidth: 2, priceLineVisible: false,
      priceFormat: { type: "price", precision: 2, minMove: 0.01 },
    });
    return () => {
      created.remove();
      chart.current = null;
      series.current = null;
    };
  }, []);

  useEffect(() => {
    const line = series.current;
    if (!line || !chart.current) return undefined;
    const points = equityPoints(time, equity, split);
    line.setData(points);
    const cashLine = line.createPriceLine({
      price: cash, color: "#787b86", lineWidth: 1, lineStyle: LineStyle.Dashed,
      axisLabelVisible: true, title: "cash",
    });
    const cut = split === null ? undefined : points.find((p) => p.time >= split);
    const markers = createSeriesMarkers(line, cut ? [{
      time: cut.time, position: "aboveBar", shape: "arrowDown", color: OUT_OF_SAMPLE_COLOUR,
      text: "out of sample",
    }] : []);
    const timeScale = chart.current.timeScale();
    timeScale.fitContent();
    // the chart takes its size from a ResizeObserver after this effect: fit again once it has
    const frame = window.requestAnimationFrame(() => timeScale.fitContent());
    if (box.current) {
      box.current.dataset.points = String(points.length);
      box.current.dataset.split = cut ? String(cut.time) : "";
    }
    return () => {
      window.cancelAnimationFrame(frame);
      if (series.current !== line) return; // unmounting: the chart went first, and these with it
      line.removePriceLine(cashLine);
      markers.detach();
    };
  }, [time, equity, split, cash]);

  return <div className="equity-chart" ref={box} />;
}
