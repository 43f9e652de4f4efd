// The trade stream's connection: Live, Reconnecting in N s…, or Resumed after #id.
import { memo, useEffect, useState } from "react";
import type { ConnectionState } from "../lib/stream";
import { useObservable, type LiveHub } from "./hub";

function text(state: ConnectionState, now: number): { text: string; tone: string } {
  switch (state.kind) {
    case "live":
      return state.resumedAfter !== null
        ? { text: `Resumed after #${state.resumedAfter}`, tone: "warn" }
        : { text: "Live", tone: "gain" };
    case "reconnecting":
      return { text: `Reconnecting in ${Math.max(1, Math.ceil((state.at - now) / 1000))} s…`, tone: "loss" };
    case "stopped":
      return { text: "Closed", tone: "muted" };
    default:
      return { text: "Connecting…", tone: "muted" };
  }
}

export const Connection = memo(function Connection({ hub }: { hub: LiveHub }) {
  const state = useObservable(hub.tradeConnection);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (state.kind !== "reconnecting") return;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(timer);
  }, [state]);
  const shown = text(state, now);
  const title = state.kind === "reconnecting" ? state.reason : undefined;
  return (
    <span className={`connection ${shown.tone}`} data-testid="connection" role="status" title={title}>
      <i className="dot" aria-hidden="true" />{shown.text}
    </span>
  );
});
