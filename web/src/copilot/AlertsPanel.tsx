// The live alerts, newest first, in their severity's colour, each with Acknowledge, and
// Acknowledge all (as the window's); the connection of /ws/alerts above them (Live,
// Reconnecting in N s…, Resumed after #id).
import { useEffect, useState } from "react";
import { api } from "../lib/api";
import type { AlertFeed } from "../lib/alertFeed";
import { price as priceText, utc } from "../lib/format";
import type { ConnectionState } from "../lib/stream";
import { useAction } from "../lib/useAction";
import { levelText } from "./rules";
import type { Alert } from "./types";

function connectionText(state: ConnectionState, now: number): { text: string; tone: string } {
  switch (state.kind) {
    case "live":
      return state.resumedAfter !== null
        ? { text: `Resumed after #${state.resumedAfter}`, tone: "warn" } : { text: "Live", tone: "gain" };
    case "reconnecting":
      return { text: `Reconnecting in ${Math.max(1, Math.ceil((state.at - now) / 1000))} s…`, tone: "loss" };
    case "stopped":
      return { text: "Closed", tone: "muted" };
    default:
      return { text: "Connecting…", tone: "muted" };
  }
}

export function AlertsConnection({ state }: { state: ConnectionState }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (state.kind !== "reconnecting") return undefined;
    setNow(Date.now());
    const timer = window.setInterval(() => setNow(Date.now()), 250);
    return () => window.clearInterval(timer);
  }, [state]);
  const shown = connectionText(state, now);
  return (
    <span className={`connection ${shown.tone}`} data-testid="alerts-connection" role="status"
          title={state.kind === "reconnecting" ? state.reason : undefined}>
      <i className="dot" aria-hidden="true" />{shown.text}
    </span>
  );
}

/** Requests in flight at once while every listed alert is acknowledged. */
const ACK_AT_ONCE = 8;

export function AlertsPanel({ alerts, connection, feed }: {
  alerts: readonly Alert[];
  connection: ConnectionState;
  feed: AlertFeed;
}) {
  const { busy, error, run } = useAction();
  const unacknowledged = alerts.filter((a) => !a.acknowledged).length;
  const acknowledge = (alert: Alert) => run(async () => {
    feed.replaceAlert(await api.post<Alert>(`/api/copilot/alerts/${alert.id}/acknowledge`));
  });
  // every listed alert not yet seen, a few requests at a time (each reply marks its row)
  const acknowledgeAll = () => run(async () => {
    const waiting = alerts.filter((a) => !a.acknowledged).map((a) => a.id);
    for (let at = 0; at < waiting.length; at += ACK_AT_ONCE) {
      const replies = await Promise.all(waiting.slice(at, at + ACK_AT_ONCE).map(
        (id) => api.post<Alert>(`/api/copilot/alerts/${id}/acknowledge`)));
      replies.forEach((alert) => feed.replaceAlert(alert));
    }
  });

  return (
    <section role="region" aria-label="Alerts" className="panel alerts-panel">
      <h2 className="panel-title">
        Alerts <span className="muted count-badge" title="not acknowledged">{unacknowledged} new</span>
        <span className="spacer" />
        <button type="button" className="small" disabled={busy || !unacknowledged}
                onClick={() => void acknowledgeAll()}>Acknowledge all</button>
        <AlertsConnection state={connection} />
      </h2>
      {error && <p role="alert" className="error-text panel-error">{error}</p>}
      <div className="scroll">
        <ol className="alert-list" aria-label="Live alerts">
          {alerts.map((alert) => (
            <li key={alert.id} data-alert-id={alert.id} data-severity={alert.severity}
                className={`alert-item sev-${alert.severity} ${alert.acknowledged ? "acked" : ""}`}>
              <div className="alert-head">
                <span className={`sev-label sev-${alert.severity}`}>{alert.severity}</span>
                <span className="alert-rule ellipsis" title={alert.rule_id}>{alert.rule_name}</span>
                {alert.throttled && <span className="tag warn">throttled</span>}
                {alert.action_id !== null && <span className="tag">action #{alert.action_id}</span>}
                <span className="spacer" />
                <time className="muted" dateTime={new Date(alert.time * 1000).toISOString()}>{utc(alert.time, false)}</time>
                {alert.acknowledged
                  ? <span className="muted ack-done" title="acknowledged">✓</span>
                  : <button type="button" className="small" aria-label={`Acknowledge alert ${alert.id}`}
                            onClick={() => void acknowledge(alert)}>Ack</button>}
              </div>
              <div className="alert-message">{alert.message}</div>
              {(alert.coin || alert.strategy_id || alert.price !== null) && (
                <div className="alert-meta muted">
                  {[alert.coin, alert.strategy_id].filter(Boolean).join(" · ")}
                  {alert.price !== null && ` · price ${priceText(alert.price)}`}
                  {alert.threshold !== null && ` · threshold ${levelText(alert.threshold)}`}
                  {` · #${alert.id}`}
                </div>
              )}
            </li>
          ))}
        </ol>
        {!alerts.length && <p className="muted empty">No alert yet. They appear here the moment a rule fires.</p>}
      </div>
    </section>
  );
}
