// The actions waiting for the trader: what each would do, why the copilot proposes it, and
// Confirm or Reject; the server's reply (what happened, or why it could not) shown after.
import { useState } from "react";
import { api } from "../lib/api";
import type { AlertFeed } from "../lib/alertFeed";
import { utc } from "../lib/format";
import { useAction } from "../lib/useAction";
import { actionText } from "./rules";
import type { Action } from "./types";

export function actionOutcome(action: Action): string {
  const what = `#${action.id} ${actionText(action)}`;
  return action.result ? `${what}: ${action.status}, ${action.result}` : `${what}: ${action.status}`;
}

export function ActionsPanel({ actions, feed }: { actions: readonly Action[]; feed: AlertFeed }) {
  const pending = actions.filter((a) => a.status === "pending");
  const [outcome, setOutcome] = useState<Action | null>(null);
  const { busy, error, run } = useAction();
  const decide = (action: Action, confirm: boolean) => run(async () => {
    // the journal records who decided: this page says it is the browser view
    const decided = await api.post<Action>(`/api/copilot/actions/${action.id}/${confirm ? "confirm" : "reject"}`,
                                           undefined, undefined, { "X-Velocitas-Client": "browser" });
    feed.replaceAction(decided);
    setOutcome(decided);
  });

  return (
    <section role="region" aria-label="Pending actions" className="panel actions-panel">
      <h2 className="panel-title">
        Pending actions <span className={`count-badge ${pending.length ? "warn" : "muted"}`}>{pending.length}</span>
      </h2>
      {error && <p role="alert" className="error-text panel-error">{error}</p>}
      {outcome && (
        <p role="status" className={`panel-error ${outcome.status === "executed" ? "gain" : outcome.status === "failed" ? "loss" : "muted"}`}
           data-testid="action-outcome">{actionOutcome(outcome)}</p>
      )}
      <div className="scroll">
        {pending.length ? (
          <ul className="action-list">
            {pending.map((action) => (
              <li key={action.id} data-action-id={action.id} className="action-item">
                <div className="action-what">
                  <b>{actionText(action)}</b>
                  <span className="muted"> · rule {action.rule_id ?? "—"} · {utc(action.created, false)}</span>
                </div>
                <div className="action-reason">{action.reason}</div>
                <div className="action-buttons">
                  <button type="button" className="small primary" disabled={busy}
                          aria-label={`Confirm action ${action.id}`} onClick={() => void decide(action, true)}>Confirm</button>
                  <button type="button" className="small" disabled={busy}
                          aria-label={`Reject action ${action.id}`} onClick={() => void decide(action, false)}>Reject</button>
                </div>
              </li>
            ))}
          </ul>
        ) : <p className="muted empty">Nothing waits for you. A rule with an action that is not automatic proposes it here.</p>}
      </div>
    </section>
  );
}
