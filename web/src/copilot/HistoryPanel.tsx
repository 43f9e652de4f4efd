// Every alert and action the journal holds, newest first: alerts a page at a time (Older
// reads the page before the oldest shown), filtered by severity; actions with who decided
// them, when, and what happened; each table exported as CSV.
import { useCallback, useEffect, useState } from "react";
import { api } from "../lib/api";
import { price as priceText, utc } from "../lib/format";
import { useAction } from "../lib/useAction";
import { ACTION_COLUMNS, ALERT_COLUMNS, HISTORY_PAGE, olderQuery, toCsv } from "./history";
import { actionText } from "./rules";
import { SEVERITIES, type Action, type Alert } from "./types";

function download(name: string, text: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  link.download = name;
  link.click();
  URL.revokeObjectURL(link.href);
}

export function HistoryPanel() {
  const [severity, setSeverity] = useState("");
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [alertsDone, setAlertsDone] = useState(false);
  const [actions, setActions] = useState<Action[]>([]);
  const [actionLimit, setActionLimit] = useState(HISTORY_PAGE);
  const { busy, error, run } = useAction();

  const loadAlerts = useCallback((held: Alert[]) => run(async () => {
    const page = await api.get<Alert[]>("/api/copilot/alerts", olderQuery(held, severity));
    setAlerts([...held, ...page]);
    setAlertsDone(page.length < HISTORY_PAGE);
  }), [run, severity]);

  useEffect(() => {
    void loadAlerts([]);
  }, [loadAlerts]);

  useEffect(() => {
    void run(async () => setActions(await api.get<Action[]>("/api/copilot/actions", { limit: actionLimit })));
  }, [run, actionLimit]);

  return (
    <div className="history">
      {error && <p role="alert" className="error-text panel-error">{error}</p>}
      <section role="region" aria-label="Alert history" className="panel">
        <h2 className="panel-title">
          Alerts <span className="muted count-badge">{alerts.length}{alertsDone ? "" : "+"}</span>
          <span className="spacer" />
          <label className="inline-label">Severity{" "}
            <select className="small" value={severity} onChange={(e) => setSeverity(e.target.value)}>
              <option value="">all</option>
              {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
            </select>
          </label>
          <button type="button" className="small" disabled={!alerts.length}
                  onClick={() => download("velocitas-alerts.csv", toCsv(alerts, ALERT_COLUMNS))}>Export CSV</button>
        </h2>
        <div className="scroll">
          <table className="grid history-table">
            <thead><tr><th className="num">#</th><th>Time (UTC)</th><th>Severity</th><th>Rule</th><th>Coin</th>
              <th className="num">Price</th><th>Message</th><th>Ack</th></tr></thead>
            <tbody>
              {alerts.map((a) => (
                <tr key={a.id} data-history-alert={a.id}>
                  <td className="num muted">{a.id}</td><td>{utc(a.time, false)}</td>
                  <td className={`sev-text sev-${a.severity}`}>{a.severity}</td>
                  <td className="ellipsis">{a.rule_name}</td><td>{a.coin ?? a.strategy_id ?? ""}</td>
                  <td className="num">{a.price === null ? "" : priceText(a.price)}</td>
                  <td className="ellipsis wide-cell" title={a.message}>{a.message}</td>
                  <td>{a.acknowledged ? "✓" : ""}</td>
                </tr>
              ))}
              {!alerts.length && <tr><td colSpan={8} className="muted empty">{busy ? "Loading…" : "No alert recorded."}</td></tr>}
            </tbody>
          </table>
          {!alertsDone && alerts.length > 0 && (
            <button type="button" className="small more" disabled={busy} onClick={() => void loadAlerts(alerts)}>Older alerts</button>
          )}
        </div>
      </section>
      <section role="region" aria-label="Action history" className="panel">
        <h2 className="panel-title">
          Actions <span className="muted count-badge">{actions.length}</span>
          <span className="spacer" />
          <button type="button" className="small" disabled={!actions.length}
                  onClick={() => download("velocitas-actions.csv", toCsv(actions, ACTION_COLUMNS))}>Export CSV</button>
        </h2>
        <div className="scroll">
          <table className="grid history-table">
            <thead><tr><th className="num">#</th><th>Created (UTC)</th><th>Action</th><th>Status</th><th>Decided by</th>
              <th>Reason</th><th>Result</th></tr></thead>
            <tbody>
              {actions.map((a) => (
                <tr key={a.id} data-history-action={a.id}>
                  <td className="num muted">{a.id}</td><td>{utc(a.created, false)}</td>
                  <td className="ellipsis">{actionText(a)}{a.auto ? " (auto)" : ""}</td>
                  <td className={`status-${a.status}`}>{a.status}</td>
                  <td>{a.decided_by ?? ""}{a.decided ? ` ${utc(a.decided, false).slice(11)}` : ""}</td>
                  <td className="ellipsis wide-cell" title={a.reason}>{a.reason}</td>
                  <td className="ellipsis" title={a.result ?? undefined}>{a.result ?? ""}</td>
                </tr>
              ))}
              {!actions.length && <tr><td colSpan={7} className="muted empty">{busy ? "Loading…" : "No action recorded."}</td></tr>}
            </tbody>
          </table>
          {actions.length >= actionLimit && (
            <button type="button" className="small more" disabled={busy}
                    onClick={() => setActionLimit((n) => n + HISTORY_PAGE)}>More actions</button>
          )}
        </div>
      </section>
    </div>
  );
}
