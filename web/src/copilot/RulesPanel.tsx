// The rules: one row each with its enabled toggle, what it watches and how often, how often it
// fired, and why the monitor disabled it if it did; New, Edit, Delete (asked first), and the
// rules file's Import and Export.
import { useId, useState } from "react";
import { Dialog } from "../components/Dialog";
import { api } from "../lib/api";
import { count, utc } from "../lib/format";
import { useAction } from "../lib/useAction";
import { RuleDialog } from "./RuleDialog";
import { actionText, conditionText, frequencyText, rulesInFile, scopeText } from "./rules";
import type { ConditionType, Rule } from "./types";

/** The built-in daily-loss guard's rule (copilot/guard.py BUILT_IN_GUARD): shown with the
 * rules, changed only in Settings. */
export const BUILT_IN_GUARD = "daily-loss-guard";

/** 19:33:08 for today (UTC), 12-07 19:33 before. */
function shortTime(seconds: number): string {
  const text = utc(seconds, false);
  return text.slice(0, 10) === utc(Date.now() / 1000, false).slice(0, 10) ? text.slice(11) : text.slice(5, 16);
}

type Open = { kind: "edit"; rule: Rule | null } | { kind: "delete"; rule: Rule } | { kind: "import" };

interface Props {
  rules: Rule[];
  conditions: ConditionType[];
  strategies: string[];
  coins: string[];
  onChanged: () => void;
}

export function RulesPanel({ rules, conditions, strategies, coins, onChanged }: Props) {
  const [open, setOpen] = useState<Open | null>(null);
  const [note, setNote] = useState("");
  const { error, run } = useAction();
  const close = () => setOpen(null);

  const toggle = async (rule: Rule, enabled: boolean) => {
    setNote("");
    if (await run(() => api.post(`/api/copilot/rules/${encodeURIComponent(rule.id)}/${enabled ? "enable" : "disable"}`))) {
      onChanged();
    }
  };

  const exportRules = () => run(async () => {
    const file = await api.get<unknown>("/api/copilot/rules/export");
    const text = typeof file === "string" ? file : JSON.stringify(file, null, 2);
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    link.download = "velocitas-rules.json";
    link.click();
    URL.revokeObjectURL(link.href);
    setNote(`Exported ${count(rules.length)} rule${rules.length === 1 ? "" : "s"} to velocitas-rules.json`);
  });

  return (
    <section role="region" aria-label="Rules" className="panel rules-panel">
      <h2 className="panel-title">
        Rules <span className="muted count-badge">{rules.length}</span>
        <span className="spacer" />
        <button type="button" className="small" onClick={() => setOpen({ kind: "import" })}>Import</button>
        <button type="button" className="small" onClick={() => void exportRules()}>Export</button>
        <button type="button" className="small primary" disabled={!conditions.length}
                onClick={() => setOpen({ kind: "edit", rule: null })}>New rule</button>
      </h2>
      {error && <p role="alert" className="error-text panel-error">{error}</p>}
      {note && <p role="status" className="muted panel-error">{note}</p>}
      <div className="scroll">
        <table className="grid rules-table">
          <thead>
            <tr>
              <th><span className="sr-only">Enabled</span><span aria-hidden="true">On</span></th>
              <th>Rule · scope · frequency</th><th>Condition</th><th>Action</th>
              <th className="num">Fired</th><th>Last</th>
              <th><span className="sr-only">Edit or delete</span></th>
            </tr>
          </thead>
          <tbody>
            {rules.map((rule) => (
              <tr key={rule.id} data-testid={`rule-row-${rule.id}`} className={rule.enabled ? "" : "off"}>
                <td>
                  <input type="checkbox" checked={rule.enabled} aria-label={`Enabled: ${rule.name}`}
                         disabled={rule.id === BUILT_IN_GUARD}
                         title={rule.id === BUILT_IN_GUARD ? "the daily-loss guard is switched in Settings" : undefined}
                         onChange={(e) => void toggle(rule, e.target.checked)} />
                </td>
                <td className="rule-name">
                  <span className={`sev-dot sev-${rule.severity}`} title={rule.severity} aria-label={rule.severity} />
                  <span className="ellipsis name" title={`${rule.id}${rule.message ? `: ${rule.message}` : ""}`}>{rule.name}</span>
                  <small className="muted rule-when ellipsis"
                         title={rule.expires ? `expires ${utc(rule.expires, false)} UTC` : undefined}>
                    {scopeText(rule)} · {frequencyText(rule)}{rule.expires ? ` · until ${utc(rule.expires, false).slice(0, 16)}` : ""}
                  </small>
                  {rule.id === BUILT_IN_GUARD && (
                    <small className="muted disabled-reason">built in: set it in Settings</small>
                  )}
                  {!rule.enabled && !rule.disabled_reason && rule.frequency.mode === "once" && (rule.fired ?? 0) > 0 && (
                    <small className="muted disabled-reason">fired once: switch it on to watch again</small>
                  )}
                  {rule.disabled_reason && (
                    <small className="warn disabled-reason" data-testid={`rule-disabled-${rule.id}`}>
                      disabled: {rule.disabled_reason}
                    </small>
                  )}
                </td>
                <td className="mono condition" title={conditionText(rule)}>{conditionText(rule)}</td>
                <td className="ellipsis" title={actionText(rule.action)}>
                  {rule.action ? `${rule.action.type}${rule.action.auto ? " (auto)" : ""}` : <span className="muted">—</span>}
                </td>
                <td className="num">{count(rule.fired ?? 0)}</td>
                <td className="muted" title={rule.last_fired ? `${utc(rule.last_fired, false)} UTC` : undefined}>
                  {rule.last_fired ? shortTime(rule.last_fired) : "—"}
                </td>
                <td className="actions">
                  {rule.id !== BUILT_IN_GUARD && <>
                  <button type="button" className="small" aria-label={`Edit ${rule.name}`} title="Edit"
                          onClick={() => setOpen({ kind: "edit", rule })}>✎</button>
                  <button type="button" className="small danger" aria-label={`Delete ${rule.name}`} title="Delete"
                          onClick={() => setOpen({ kind: "delete", rule })}>✕</button>
                  </>}
                </td>
              </tr>
            ))}
            {!rules.length && (
              <tr><td colSpan={7} className="muted empty">No rule yet: New rule writes one, Import reads a rules file.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      {open?.kind === "edit" && (
        <RuleDialog conditions={conditions} rule={open.rule} strategies={strategies} coins={coins} onClose={close}
                    onSaved={(saved) => { close(); setNote(`Saved ${saved.id}`); onChanged(); }} />
      )}
      {open?.kind === "delete" && (
        <DeleteDialog rule={open.rule} onClose={close} onDone={() => { close(); setNote(`Deleted ${open.rule.id}`); onChanged(); }} />
      )}
      {open?.kind === "import" && (
        <ImportDialog onClose={close} onDone={(n) => { close(); setNote(`Imported ${count(n)} rule${n === 1 ? "" : "s"}`); onChanged(); }} />
      )}
    </section>
  );
}

function DeleteDialog({ rule, onClose, onDone }: { rule: Rule; onClose: () => void; onDone: () => void }) {
  const { busy, error, run } = useAction();
  const submit = async () => {
    if (await run(() => api.del(`/api/copilot/rules/${encodeURIComponent(rule.id)}`))) onDone();
  };
  return (
    <Dialog title={`Delete ${rule.name}?`} onClose={onClose} onSubmit={() => void submit()}>
      <p>The rule stops watching at once. Its past alerts and actions stay in the history.</p>
      {error && <p role="alert" className="error-text dialog-error">{error}</p>}
      <footer className="dialog-foot">
        <button type="button" onClick={onClose} autoFocus>Cancel</button>
        <button type="submit" className="danger" disabled={busy}>Delete</button>
      </footer>
    </Dialog>
  );
}

function ImportDialog({ onClose, onDone }: { onClose: () => void; onDone: (n: number) => void }) {
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  const [replace, setReplace] = useState(false);
  const { busy, error, setError, run } = useAction();
  const submit = async () => {
    if (!file) return;
    const rules = rulesInFile(await file.text());
    if (typeof rules === "string") {
      setError(rules);
      return;
    }
    let imported: unknown[] = [];
    if (await run(async () => {
      imported = await api.post<unknown[]>("/api/copilot/rules/import", { rules, replace });
    })) onDone(Array.isArray(imported) ? imported.length : rules.length);
  };
  return (
    <Dialog title="Import rules" onClose={onClose} onSubmit={() => void submit()}>
      <p>Every rule of the file is checked first: one bad rule imports none.</p>
      <div className="field">
        <label htmlFor={`${id}-file`}>Rules file</label>
        <input id={`${id}-file`} type="file" accept=".json,application/json"
               onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
      </div>
      <div className="field field-check">
        <input id={`${id}-replace`} type="checkbox" checked={replace} onChange={(e) => setReplace(e.target.checked)} />
        <label htmlFor={`${id}-replace`}>Replace the current rules</label>
        <small className="muted field-doc">unticked: the file's rules are added, one of the same id replaced</small>
      </div>
      {error && <p role="alert" className="error-text dialog-error">{error}</p>}
      <footer className="dialog-foot">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="submit" className="primary" disabled={busy || !file}>Import</button>
      </footer>
    </Dialog>
  );
}
