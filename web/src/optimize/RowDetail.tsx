// The selected row backtested over the whole bar file (GET …/results/{rank}): its equity
// curve with the in-sample / out-of-sample cut, and its fills.
import { useEffect, useState } from "react";
import { ApiError, api, errorText } from "../lib/api";
import { count, pct } from "../lib/format";
import { TRADE_COLUMNS } from "./columns";
import { EquityChart, IN_SAMPLE_COLOUR, OUT_OF_SAMPLE_COLOUR } from "./EquityChart";
import { numberText } from "./grid";
import type { RowBacktest } from "./types";
import { VirtualTable } from "./VirtualTable";

type State =
  | { state: "idle" }
  | { state: "loading"; rank: number }
  | { state: "done"; detail: RowBacktest }
  | { state: "failed"; message: string };

function failure(error: unknown, jobId: string, rank: number): string {
  if (error instanceof ApiError && error.status === 404 && error.detail === "Not Found") {
    return `This server cannot backtest a single row yet (GET /api/optimization/jobs/${jobId}/results/${rank} is missing): update Velocitas.`;
  }
  return errorText(error);
}

export function useRowBacktest(jobId: string | null, rank: number | null): State {
  const [state, setState] = useState<State>({ state: "idle" });
  useEffect(() => {
    if (!jobId || rank === null) {
      setState({ state: "idle" });
      return undefined;
    }
    const abort = new AbortController();
    setState({ state: "loading", rank });
    api.get<RowBacktest>(`/api/optimization/jobs/${encodeURIComponent(jobId)}/results/${rank}`, undefined, abort.signal)
      .then((detail) => setState({ state: "done", detail }))
      .catch((error) => {
        if ((error as Error).name !== "AbortError") setState({ state: "failed", message: failure(error, jobId, rank) });
      });
    return () => abort.abort();
  }, [jobId, rank]);
  return state;
}

export function RowDetail({ detail }: { detail: State }) {
  const row = detail.state === "done" ? detail.detail : null;
  const trades = row?.trades.map((t, i) => ({ ...t, rank: i })) ?? [];
  const stats = row?.stats ?? {};
  const caption = row
    ? `#${row.rank}  ${Object.entries(row.params).filter(([k, v]) => !(k === "quantity" && v === 0)).map(([k, v]) => `${k}=${numberText(v)}`).join(" ")}  ·  return ${pct(stats.total_return_pct ?? null, 2, true)}  ·  max DD ${pct(stats.max_drawdown_pct ?? null, 2)}`
    : "";
  const message = detail.state === "loading" ? `Backtesting rank ${detail.rank}…`
    : detail.state === "failed" ? detail.message
      : detail.state === "idle" ? "Select a row of the results to see its equity and fills." : "";

  return (
    <>
      <section className="panel equity-panel" aria-label="Equity curve">
        <h2>
          Equity curve
          {row && (
            <span className="legend">
              <span style={{ color: IN_SAMPLE_COLOUR }}>━ in sample</span>
              {row.split_time !== null && <span style={{ color: OUT_OF_SAMPLE_COLOUR }}>━ out of sample</span>}
            </span>
          )}
        </h2>
        {row ? (
          <>
            <p className="caption">{caption}</p>
            <EquityChart time={row.time} equity={row.equity} split={row.split_time} cash={row.cash} />
          </>
        ) : (
          <p className={detail.state === "failed" ? "empty error-text" : "empty muted"}
             role={detail.state === "failed" ? "alert" : undefined}>{message}</p>
        )}
      </section>
      <section className="panel trades-panel" aria-label="Row trades">
        <h2>
          Trades
          <span className="count">{row ? `${count(trades.length)} fills over the whole file` : ""}</span>
        </h2>
        <VirtualTable label="Trades of the selected row" columns={TRADE_COLUMNS} rows={trades}
                      rowKey={(t) => t.rank} empty={row ? "No fills." : message} />
      </section>
    </>
  );
}
