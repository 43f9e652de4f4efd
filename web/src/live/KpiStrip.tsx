// The key figures, one tile each, as the window's KPI bar writes them (gui/panels.py).
import { memo } from "react";
import { count, drawdown, money, pct, ratio, signClass, amount } from "../lib/format";
import type { GlobalMetrics } from "../lib/types";

interface Tile {
  key: string;
  title: string;
  text: (g: GlobalMetrics) => string;
  tone?: (g: GlobalMetrics) => string;
  tip?: (g: GlobalMetrics) => string;
}

const STATUS_TONE: Record<string, string> = {
  running: "gain", error: "loss", starting: "warn", stopping: "warn", paused: "warn",
};

const TILES: Tile[] = [
  { key: "net_pnl", title: "Net P&L", text: (g) => money(g.net_pnl), tone: (g) => signClass(g.net_pnl),
    tip: () => "Realised P&L of the session's fills, fees included" },
  { key: "unrealized_pnl", title: "Unrealised", text: (g) => money(g.unrealized_pnl),
    tone: (g) => signClass(g.unrealized_pnl), tip: () => "Open positions at their last price" },
  { key: "return_pct", title: "Return", text: (g) => pct(g.return_pct, 2, true),
    tone: (g) => signClass(g.return_pct),
    tip: (g) => (g.capital ? `Equity over a starting capital of ${amount(g.capital)}` : "") },
  { key: "win_rate", title: "Win rate", text: (g) => pct(g.win_rate, 1),
    tip: () => "Winning round trips / round trips" },
  { key: "total_trades", title: "Fills", text: (g) => count(g.total_trades),
    tip: () => "Every trade in the blotter; opening and closing a position are two" },
  { key: "closed_trades", title: "Round trips", text: (g) => count(g.closed_trades),
    tip: () => "Fills that closed a position (the win rate's base)" },
  { key: "max_drawdown", title: "Max drawdown", text: (g) => drawdown(g.max_drawdown, g.max_drawdown_pct),
    tip: () => "Largest fall of the session's equity from a peak, and as a percentage of the peak account value" },
  { key: "sharpe_ratio", title: "Sharpe", text: (g) => ratio(g.sharpe_ratio),
    tip: (g) => g.sharpe_note ?? "Annualised Sharpe ratio of daily account returns" },
  { key: "fees", title: "Fees", text: (g) => amount(g.fees) },
  { key: "active_strategies", title: "Strategies", text: (g) => String(g.active_strategies ?? 0) },
  { key: "active_coins", title: "Coins", text: (g) => String(g.active_coins ?? 0) },
  { key: "status", title: "Status", text: (g) => String(g.status ?? "stopped").toUpperCase(),
    tone: (g) => STATUS_TONE[g.status] ?? "" },
];

/** `stale`: the metrics stream is down, so the figures are the last ones received. */
export const KpiStrip = memo(function KpiStrip({ global, stale }: { global: GlobalMetrics | null; stale: boolean }) {
  return (
    <section role="region" aria-label="Key figures" className={`kpis ${stale ? "stale" : ""}`}
             title={stale ? "Not connected: the last figures received" : undefined}>
      {TILES.map((tile) => {
        const text = global ? tile.text(global) : "—";
        const tip = global && tile.tip ? tile.tip(global) : "";
        return (
          <div key={tile.key} className="kpi" data-testid={`kpi-${tile.key}`}
               title={tip ? `${text}: ${tip}` : text}>
            <span className="kpi-title">{tile.title}</span>
            <span className={`kpi-value num ${global && tile.tone ? tile.tone(global) : ""}`}
                  data-testid={`kpi-${tile.key}-value`}>
              {text}
            </span>
          </div>
        );
      })}
    </section>
  );
});
