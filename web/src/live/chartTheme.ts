// The charts' colours and options, from the desktop window's dark theme (theme.css).
import { ColorType, type DeepPartial, type ChartOptions } from "lightweight-charts";

export const UP = "#26a69a";
export const DOWN = "#ef5350";
export const LINES = ["#2962ff", "#ff9800", "#ab47bc", "#26c6da", "#d4e157", "#ec407a", "#8d6e63", "#66bb6a"];

export const CHART_OPTIONS: DeepPartial<ChartOptions> = {
  autoSize: true,
  layout: {
    background: { type: ColorType.Solid, color: "#171b26" },
    textColor: "#b2b5be",
    fontSize: 11,
    attributionLogo: false,
  },
  grid: { vertLines: { color: "#1f2330" }, horzLines: { color: "#1f2330" } },
  rightPriceScale: { borderColor: "#2a2e39" },
  timeScale: { borderColor: "#2a2e39", timeVisible: true, secondsVisible: false },
  crosshair: { mode: 0 },
};
