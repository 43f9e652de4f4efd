// The two things the trend page keeps reading from the server: a running job until it ends,
// and a live coin's report while the engine runs.
import { useEffect, useRef } from "react";
import { api, errorText } from "../lib/api";
import type { EngineStatus } from "../lib/types";
import { ENDED } from "../optimize/types";
import { CHART_CANDLES } from "./report";
import type { TrendJob, TrendReport } from "./types";

const POLL_MS = 300;
const LIVE_MS = 5_000;
export const JOBS = "/api/trend/jobs";

export const jobPath = (jobId: string) => `${JOBS}/${encodeURIComponent(jobId)}`;

/** The latest callbacks, so a timer started once calls the current ones. */
function useLatest<T>(value: T) {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}

/** GET the job every 300 ms while it runs; each reply goes to onJob (the last one ended). */
export function useJobPolling(jobId: string | null, running: boolean,
                              onJob: (job: TrendJob) => void, onError: (text: string) => void) {
  const calls = useLatest({ onJob, onError });
  useEffect(() => {
    if (!jobId || !running) return undefined;
    let timer: number | undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const next = await api.get<TrendJob>(jobPath(jobId));
        if (stopped) return;
        calls.current.onJob(next);
        if (ENDED.has(next.status)) return;
      } catch (e) {
        if (stopped) return;
        calls.current.onError(errorText(e));
      }
      timer = window.setTimeout(poll, POLL_MS);
    };
    timer = window.setTimeout(poll, POLL_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [jobId, running, calls]);
}

/** A live coin's report now, then every 5 s while the engine runs (the engine's coins with
 * each look at its status); an error (the coin has no bars yet) goes to onError. */
export function useLiveTrend(coin: string | null, handlers: {
  onReport: (report: TrendReport) => void;
  onCoins: (coins: string[]) => void;
  onError: (text: string) => void;
}) {
  const calls = useLatest(handlers);
  useEffect(() => {
    if (!coin) return undefined;
    let stopped = false;
    const read = async () => {
      try {
        const next = await api.get<TrendReport>(`/api/trend/${encodeURIComponent(coin)}`, { candles: CHART_CANDLES });
        if (!stopped) calls.current.onReport(next);
      } catch (e) {
        if (!stopped) calls.current.onError(errorText(e));
      }
    };
    void read();
    const timer = window.setInterval(async () => {
      try {
        const status = await api.get<EngineStatus>("/api/engine/status");
        if (stopped) return;
        calls.current.onCoins(status.coins);
        if (status.status === "running") await read();
      } catch {
        // the next tick tries again
      }
    }, LIVE_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [coin, calls]);
}
