// New rule / Edit rule: a form generated from the declared condition types (each type's
// parameters with their bounds and docs), the scope, frequency, expiry, severity, the message
// template with its placeholders, and an optional action. The form's own checks mark a field;
// the server's refusal (a 422) is shown as it words it.
import { useId, useMemo, useState } from "react";
import { Dialog } from "../components/Dialog";
import { ParamField } from "../components/ParamField";
import { api } from "../lib/api";
import { TIMEFRAMES } from "../lib/live";
import { useAction } from "../lib/useAction";
import {
  ACTIONS, FREQUENCIES, PLACEHOLDERS, SCOPES, emptyForm, formFromRule, paramSpec, ruleFromForm, scopesOf,
  validateForm, withActionType, withScope, withType, type RuleForm,
} from "./rules";
import { SEVERITIES, type ConditionType, type Rule } from "./types";

interface Props {
  conditions: ConditionType[];
  /** The rule edited, or null for a new one. */
  rule: Rule | null;
  /** Strategy ids and coins the engine has, offered in the scope and action fields. */
  strategies: string[];
  coins: string[];
  onClose: () => void;
  onSaved: (rule: Rule) => void;
}

export function RuleDialog({ conditions, rule, strategies, coins, onClose, onSaved }: Props) {
  const id = useId();
  const [form, setForm] = useState<RuleForm>(() => rule ? formFromRule(rule, conditions) : emptyForm(conditions));
  const [checked, setChecked] = useState(false); // field problems show after the first Save
  const { busy, error, run } = useAction();
  const problems = useMemo(() => validateForm(form, conditions), [form, conditions]);
  const shown = checked ? problems : {};
  const condition = conditions.find((c) => c.type === form.type);
  const action = ACTIONS.find((a) => a.type === form.actionType);
  const groups = useMemo(() => {
    const byGroup = new Map<string, ConditionType[]>();
    for (const c of conditions) byGroup.set(c.group, [...(byGroup.get(c.group) ?? []), c]);
    return [...byGroup.entries()];
  }, [conditions]);

  const set = (patch: Partial<RuleForm>) => setForm((f) => ({ ...f, ...patch }));
  const problem = (key: string) => shown[key]
    ? <small id={`${id}-${key}-problem`} className="error-text field-doc">{shown[key]}</small> : null;
  const invalid = (key: string) => ({
    "aria-invalid": shown[key] ? true : undefined,
    "aria-describedby": shown[key] ? `${id}-${key}-problem` : undefined,
  });

  const save = async () => {
    setChecked(true);
    if (Object.keys(problems).length) return;
    const body = ruleFromForm(form, conditions);
    let saved: Rule | null = null;
    const ok = await run(async () => {
      saved = rule
        ? await api.put<Rule>(`/api/copilot/rules/${encodeURIComponent(rule.id)}`, body)
        : await api.post<Rule>("/api/copilot/rules", body);
    });
    if (ok && saved) onSaved(saved);
  };

  return (
    <Dialog title={rule ? `Edit rule ${rule.id}` : "New rule"} onClose={onClose} onSubmit={() => void save()}
            className="wide rule-dialog" describedBy={error ? `${id}-error` : undefined}>
      <div className="rule-grid">
        <div className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input id={`${id}-name`} value={form.name} autoFocus autoComplete="off" {...invalid("name")}
                 onChange={(e) => set({ name: e.target.value })} />
          {problem("name")}
        </div>
        <div className="field">
          <label htmlFor={`${id}-id`}>Rule id</label>
          <input id={`${id}-id`} value={form.id} disabled={rule !== null} autoComplete="off"
                 placeholder="made from the name" {...invalid("id")}
                 onChange={(e) => set({ id: e.target.value })} />
          {problem("id")}
        </div>
        <div className="field field-check">
          <input id={`${id}-enabled`} type="checkbox" checked={form.enabled}
                 onChange={(e) => set({ enabled: e.target.checked })} />
          <label htmlFor={`${id}-enabled`}>Enabled</label>
        </div>
      </div>

      <fieldset className="rule-section">
        <legend>Condition</legend>
        <div className="field">
          <label htmlFor={`${id}-type`}>Condition</label>
          <select id={`${id}-type`} value={form.type} aria-describedby={`${id}-type-doc`}
                  onChange={(e) => setForm((f) => withType(f, e.target.value, conditions))}>
            {groups.map(([group, types]) => (
              <optgroup key={group} label={group}>
                {types.map((c) => <option key={c.type} value={c.type}>{c.type}</option>)}
              </optgroup>
            ))}
          </select>
          <small id={`${id}-type-doc`} className="muted field-doc">{condition?.doc}</small>
        </div>
        {condition && condition.params.length > 0 && (
          <div className="rule-params">
            {condition.params.map((param) => (
              <div key={`${condition.type}.${param.name}`} className="param-cell">
                <ParamField spec={paramSpec(param)} value={form.params[param.name] ?? ""}
                            error={shown[`param:${param.name}`]}
                            onChange={(value) => set({ params: { ...form.params, [param.name]: value } })} />
                {problem(`param:${param.name}`)}
              </div>
            ))}
          </div>
        )}
      </fieldset>

      <fieldset className="rule-section rule-grid">
        <legend>When and where</legend>
        <div className="field">
          <label htmlFor={`${id}-scope`}>Scope</label>
          <select id={`${id}-scope`} value={form.scopeKind}
                  onChange={(e) => setForm((f) => withScope(f, e.target.value as RuleForm["scopeKind"]))}>
            {SCOPES.filter(([kind]) => scopesOf(condition).includes(kind))
              .map(([kind, label]) => <option key={kind} value={kind}>{label}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-scope-value`}>{form.scopeKind === "strategy" ? "Strategy id" : "Coin"}</label>
          <input id={`${id}-scope-value`} value={form.scopeKind === "all" ? "" : form.scopeValue}
                 disabled={form.scopeKind === "all"} autoComplete="off" list={`${id}-scope-list`}
                 {...invalid("scope")} onChange={(e) => set({ scopeValue: e.target.value })} />
          <datalist id={`${id}-scope-list`}>
            {(form.scopeKind === "strategy" ? strategies : coins).map((v) => <option key={v} value={v} />)}
          </datalist>
          {problem("scope")}
        </div>
        <div className="field">
          <label htmlFor={`${id}-severity`}>Severity</label>
          <select id={`${id}-severity`} value={form.severity}
                  onChange={(e) => set({ severity: e.target.value as RuleForm["severity"] })}>
            {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-frequency`}>Frequency</label>
          <select id={`${id}-frequency`} value={form.frequency}
                  onChange={(e) => set({ frequency: e.target.value as RuleForm["frequency"] })}>
            {FREQUENCIES.map(([mode, label]) => <option key={mode} value={mode}>{label}</option>)}
          </select>
        </div>
        {form.frequency === "every_time" ? (
          <div className="field">
            <label htmlFor={`${id}-cooldown`}>Cooldown (s)</label>
            <input id={`${id}-cooldown`} type="number" min={0} step="any" value={form.cooldown}
                   {...invalid("cooldown")} onChange={(e) => set({ cooldown: e.target.value })} />
            {problem("cooldown")}
          </div>
        ) : form.frequency !== "once" ? (
          <div className="field">
            <label htmlFor={`${id}-bar`}>Bar</label>
            <select id={`${id}-bar`} value={form.bar} onChange={(e) => set({ bar: e.target.value })}>
              <option value="">the condition's (or 1m)</option>
              {TIMEFRAMES.map(([tf]) => <option key={tf} value={tf}>{tf}</option>)}
            </select>
          </div>
        ) : <div />}
        <div className="field">
          <label htmlFor={`${id}-expires`}>Expires (UTC)</label>
          <input id={`${id}-expires`} type="datetime-local" value={form.expires} {...invalid("expires")}
                 onChange={(e) => set({ expires: e.target.value })} />
          {problem("expires")}
        </div>
      </fieldset>

      <div className="field">
        <label htmlFor={`${id}-message`}>Message</label>
        <input id={`${id}-message`} value={form.message} autoComplete="off"
               placeholder={condition?.message ? `empty: ${condition.message}` : undefined}
               aria-invalid={shown.message ? true : undefined}
               aria-describedby={`${id}-placeholders${shown.message ? ` ${id}-message-problem` : ""}`}
               onChange={(e) => set({ message: e.target.value })} />
        {problem("message")}
        <small id={`${id}-placeholders`} className="muted field-doc placeholders">
          Empty: the condition's own message. Placeholders (a format may follow a colon, as
          in {"{price:,.2f}"}):{" "}
          {PLACEHOLDERS.map(([name, meaning]) => (
            <span key={name}><code>{`{${name}}`}</code> {meaning}</span>
          ))}
          {condition?.placeholders?.length ? (
            <span>{condition.type}'s own: {condition.placeholders.map((name) => (
              <code key={name}>{`{${name}}`} </code>))}</span>
          ) : null}
        </small>
      </div>

      <fieldset className="rule-section">
        <legend>Action</legend>
        <div className="rule-grid">
          <div className="field">
            <label htmlFor={`${id}-action`}>Action</label>
            <select id={`${id}-action`} value={form.actionType}
                    onChange={(e) => setForm((f) => withActionType(f, e.target.value as RuleForm["actionType"]))}>
              <option value="">None: alert only</option>
              {ACTIONS.map((a) => <option key={a.type} value={a.type}>{a.label}</option>)}
            </select>
          </div>
          {action?.fields.filter((field) => field.kind !== "bool").map((field) => (
            <div key={field.name} className="field">
              <label htmlFor={`${id}-a-${field.name}`}>{field.label}</label>
              <input id={`${id}-a-${field.name}`} value={form.actionParams[field.name] ?? ""} autoComplete="off"
                     type={field.kind === "number" ? "number" : "text"} step={field.kind === "number" ? "any" : undefined}
                     list={field.kind === "strategy" ? `${id}-strategies` : undefined}
                     placeholder={field.note} {...invalid(`action:${field.name}`)}
                     onChange={(e) => set({ actionParams: { ...form.actionParams, [field.name]: e.target.value } })} />
              {problem(`action:${field.name}`)}
            </div>
          ))}
          <datalist id={`${id}-strategies`}>{strategies.map((s) => <option key={s} value={s} />)}</datalist>
        </div>
        {action?.fields.filter((field) => field.kind === "bool").map((field) => (
          <div key={field.name} className="field field-check">
            <input id={`${id}-a-${field.name}`} type="checkbox" checked={form.actionParams[field.name] === "true"}
                   aria-describedby={`${id}-a-${field.name}-doc`}
                   onChange={(e) => set({ actionParams: { ...form.actionParams, [field.name]: String(e.target.checked) } })} />
            <label htmlFor={`${id}-a-${field.name}`}>{field.label}</label>
            <small id={`${id}-a-${field.name}-doc`} className="muted field-doc">{field.note}</small>
          </div>
        ))}
        {action && (
          <div className="field field-check">
            <input id={`${id}-auto`} type="checkbox" checked={form.auto} aria-describedby={`${id}-auto-doc`}
                   onChange={(e) => set({ auto: e.target.checked })} />
            <label htmlFor={`${id}-auto`}>Run without asking</label>
            <small id={`${id}-auto-doc`} className="muted field-doc">
              ticked: the action runs when the rule fires (a kill switch); otherwise it waits for Confirm
            </small>
          </div>
        )}
      </fieldset>

      {error && <p id={`${id}-error`} role="alert" className="error-text dialog-error">{error}</p>}
      {checked && Object.keys(problems).length > 0 && !error && (
        <p role="alert" className="error-text dialog-error">
          {Object.keys(problems).length === 1 ? "One field needs" : `${Object.keys(problems).length} fields need`} a
          change before the rule can be saved.
        </p>
      )}
      <footer className="dialog-foot">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="submit" className="primary" disabled={busy}>Save</button>
      </footer>
    </Dialog>
  );
}
