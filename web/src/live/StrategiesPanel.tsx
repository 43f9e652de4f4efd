// The strategies table with add, edit parameters, pause, resume and remove. The add form is
// generated from /api/strategies/available's declared parameters; the API's own validation
// message is shown as it is.
import { memo, useEffect, useState } from "react";
import { Dialog } from "../components/Dialog";
import { ParamField, initialValue, parsedValue, type ParamValue } from "../components/ParamField";
import { api } from "../lib/api";
import { count, money, quantity, signClass } from "../lib/format";
import type { AvailableStrategy, ParamSpec, StrategyMetrics } from "../lib/types";
import { useAction } from "../lib/useAction";

function paramsText(params: Record<string, unknown>): string {
  return Object.entries(params).map(([key, value]) => `${key}=${value}`).join(" ");
}

/** The values to send: the ones given, numbers as numbers. */
function collect(specs: ParamSpec[], values: Record<string, ParamValue>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const spec of specs) {
    const value = parsedValue(spec, values[spec.name] ?? "");
    if (value !== undefined) params[spec.name] = value;
  }
  return params;
}

type Pending = { kind: "add" } | { kind: "edit"; row: StrategyMetrics } | { kind: "remove"; id: string };

export const StrategiesPanel = memo(function StrategiesPanel({ strategies, coins, onChanged }: {
  strategies: Record<string, StrategyMetrics>;
  coins: string[];
  onChanged: () => void;
}) {
  const [catalogue, setCatalogue] = useState<AvailableStrategy[]>([]);
  const [pending, setPending] = useState<Pending | null>(null);
  const { error: rowError, run: runRow } = useAction();
  useEffect(() => {
    api.get<AvailableStrategy[]>("/api/strategies/available").then(setCatalogue, () => undefined);
  }, []);

  const rows = Object.values(strategies);
  const act = async (id: string, action: "pause" | "resume") => {
    await runRow(() => api.post(`/api/strategies/${encodeURIComponent(id)}/${action}`));
    onChanged();
  };

  return (
    <section role="region" aria-label="Strategies" className="panel strategies">
      <h2 className="panel-title">
        Strategies <span className="muted count-badge">{rows.length}</span>
        <span className="spacer" />
        <button type="button" className="small primary" onClick={() => setPending({ kind: "add" })}
                disabled={!catalogue.length}>Add strategy</button>
      </h2>
      {rowError && <p role="alert" className="error-text panel-error">{rowError}</p>}
      <div className="scroll">
        <table className="grid">
          <colgroup>
            <col /><col className="c-status" /><col className="c-coin" /><col className="c-tf" />
            <col className="c-fills" /><col className="c-pnl" /><col className="c-pos" />
            <col className="c-params" /><col className="c-actions" />
          </colgroup>
          <thead>
            <tr>
              <th>ID</th><th>Status</th><th>Coin</th><th>TF</th>
              <th className="num">Fills</th><th className="num">P&amp;L</th>
              <th className="num">Position</th><th>Params</th>
              <th><span className="sr-only">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.strategy_id} data-testid={`strategy-row-${row.strategy_id}`}>
                <td className="ellipsis" title={`${row.strategy_name}${row.error ? `: ${row.error}` : ""}`}>
                  {row.strategy_id}
                </td>
                <td className={`status-${row.status}`} title={row.error ?? undefined}>{row.status}</td>
                <td>{row.coin}</td>
                <td>{row.timeframe}</td>
                <td className="num">{count(row.total_trades)}</td>
                <td className={`num ${signClass(row.net_pnl)}`}
                    title={`Unrealised ${money(row.unrealized_pnl)}`}>{money(row.net_pnl)}</td>
                <td className="num">{quantity(row.current_position)}</td>
                <td className="params ellipsis" title={paramsText(row.params)}>{paramsText(row.params)}</td>
                <td className="actions">
                  {row.status === "active"
                    ? <button type="button" className="small" aria-label={`Pause ${row.strategy_id}`}
                              title="Pause" onClick={() => void act(row.strategy_id, "pause")}>❚❚</button>
                    : <button type="button" className="small" aria-label={`Resume ${row.strategy_id}`}
                              title="Resume" onClick={() => void act(row.strategy_id, "resume")}>▶</button>}
                  <button type="button" className="small" aria-label={`Edit ${row.strategy_id}`} title="Edit parameters"
                          onClick={() => setPending({ kind: "edit", row })}>✎</button>
                  <button type="button" className="small danger" aria-label={`Remove ${row.strategy_id}`} title="Remove"
                          onClick={() => setPending({ kind: "remove", id: row.strategy_id })}>✕</button>
                </td>
              </tr>
            ))}
            {!rows.length && (
              <tr><td colSpan={9} className="muted empty">No strategy yet: Add strategy registers one.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      {pending?.kind === "add" && (
        <AddDialog catalogue={catalogue} coins={coins} onClose={() => setPending(null)}
                   onDone={() => { setPending(null); onChanged(); }} />
      )}
      {pending?.kind === "edit" && (
        <EditDialog row={pending.row} specs={catalogue.find((s) => s.name === pending.row.strategy_name)?.params ?? []}
                    onClose={() => setPending(null)} onDone={() => { setPending(null); onChanged(); }} />
      )}
      {pending?.kind === "remove" && (
        <RemoveDialog id={pending.id} onClose={() => setPending(null)}
                      onDone={() => { setPending(null); onChanged(); }} />
      )}
    </section>
  );
});

const OTHER = "__other__";

function AddDialog({ catalogue, coins, onClose, onDone }: {
  catalogue: AvailableStrategy[];
  coins: string[];
  onClose: () => void;
  onDone: () => void;
}) {
  const [name, setName] = useState(catalogue[0]?.name ?? "");
  const spec = catalogue.find((s) => s.name === name);
  const [coin, setCoin] = useState(coins[0] ?? OTHER);
  const [otherCoin, setOtherCoin] = useState("");
  const [timeframe, setTimeframe] = useState("tick");
  const [values, setValues] = useState<Record<string, ParamValue>>(() => defaults(spec));
  const [allowShort, setAllowShort] = useState(false);
  const [strategyId, setStrategyId] = useState("");
  const { busy, error, setError, run } = useAction();

  const choose = (next: string) => {
    setName(next);
    setValues(defaults(catalogue.find((s) => s.name === next)));
    setError("");
  };

  const submit = async () => {
    if (!spec) return;
    const added = await run(() => api.post("/api/strategies/register", {
      name,
      coin: (coin === OTHER ? otherCoin : coin).trim().toUpperCase(),
      params: collect(spec.params, values),
      timeframe,
      allow_short: allowShort,
      ...(strategyId.trim() ? { strategy_id: strategyId.trim() } : {}),
    }));
    if (added) onDone();
  };

  return (
    <Dialog title="Add strategy" onClose={onClose} onSubmit={() => void submit()} className="wide"
            describedBy={error ? "add-error" : undefined}>
      <div className="form-grid">
        <div className="field">
          <label htmlFor="add-strategy">Strategy</label>
          <select id="add-strategy" value={name} aria-describedby="add-strategy-doc"
                  onChange={(event) => choose(event.target.value)} autoFocus>
            {catalogue.map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
          </select>
          <small id="add-strategy-doc" className="muted field-doc">
            {spec?.description}{spec?.constraints.length ? ` (${spec.constraints.join("; ")})` : ""}
          </small>
        </div>
        <div className="field">
          <label htmlFor="add-coin">Coin</label>
          <select id="add-coin" value={coin} onChange={(event) => setCoin(event.target.value)}>
            {coins.map((c) => <option key={c} value={c}>{c}</option>)}
            <option value={OTHER}>Other…</option>
          </select>
          {coin === OTHER && (
            <input aria-label="Coin symbol" value={otherCoin} placeholder="e.g. SOL" spellCheck={false}
                   onChange={(event) => setOtherCoin(event.target.value)} />
          )}
        </div>
        <div className="field">
          <label htmlFor="add-timeframe">Timeframe</label>
          <select id="add-timeframe" value={timeframe} onChange={(event) => setTimeframe(event.target.value)}>
            {(spec?.timeframes ?? ["tick"]).map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        {spec?.params.map((param) => (
          <ParamField key={`${name}-${param.name}`} spec={param} value={values[param.name] ?? ""}
                      onChange={(value) => setValues((old) => ({ ...old, [param.name]: value }))} />
        ))}
        <div className="field field-check">
          <label htmlFor="add-short">Allow short</label>
          <input id="add-short" type="checkbox" checked={allowShort} aria-describedby="add-short-doc"
                 onChange={(event) => setAllowShort(event.target.checked)} />
          <small id="add-short-doc" className="muted field-doc">Spot is long-only unless this is set</small>
        </div>
        <div className="field">
          <label htmlFor="add-id">Strategy id</label>
          <input id="add-id" value={strategyId} placeholder={`${coin === OTHER ? otherCoin.toUpperCase() || "COIN" : coin}_${name}`}
                 spellCheck={false} aria-describedby="add-id-doc" onChange={(event) => setStrategyId(event.target.value)} />
          <small id="add-id-doc" className="muted field-doc">Optional: letters, digits, _ . -</small>
        </div>
      </div>
      {error && <p id="add-error" role="alert" className="error-text dialog-error">{error}</p>}
      <footer className="dialog-foot">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="submit" className="primary" disabled={busy || !spec}
                aria-describedby={error ? "add-error" : undefined}>Add</button>
      </footer>
    </Dialog>
  );
}

function defaults(spec: AvailableStrategy | undefined): Record<string, ParamValue> {
  const values: Record<string, ParamValue> = {};
  for (const param of spec?.params ?? []) values[param.name] = initialValue(param, undefined);
  return values;
}

function EditDialog({ row, specs, onClose, onDone }: {
  row: StrategyMetrics;
  specs: ParamSpec[];
  onClose: () => void;
  onDone: () => void;
}) {
  const known = specs.length ? specs : Object.entries(row.params).map(([name, value]): ParamSpec => ({
    name, type: typeof value === "boolean" ? "bool" : typeof value === "number" ? "float" : "str",
    default: value as number,
  }));
  const [values, setValues] = useState<Record<string, ParamValue>>(() => {
    const initial: Record<string, ParamValue> = {};
    for (const spec of known) initial[spec.name] = initialValue(spec, row.params[spec.name]);
    return initial;
  });
  const { busy, error, run } = useAction();

  const submit = async () => {
    const saved = await run(() => api.put(`/api/strategies/${encodeURIComponent(row.strategy_id)}/params`,
                                          { params: collect(known, values) }));
    if (saved) onDone();
  };

  return (
    <Dialog title={`Edit ${row.strategy_id}`} onClose={onClose} onSubmit={() => void submit()} className="wide"
            describedBy={error ? "edit-error" : undefined}>
      <p className="muted">{row.strategy_name} on {row.coin}: the strategy is re-created and warmed up on
        recent prices; its position is kept.</p>
      <div className="form-grid">
        {known.map((spec) => (
          <ParamField key={spec.name} spec={spec} value={values[spec.name] ?? ""}
                      onChange={(value) => setValues((old) => ({ ...old, [spec.name]: value }))} />
        ))}
      </div>
      {error && <p id="edit-error" role="alert" className="error-text dialog-error">{error}</p>}
      <footer className="dialog-foot">
        <button type="button" onClick={onClose}>Cancel</button>
        <button type="submit" className="primary" disabled={busy}
                aria-describedby={error ? "edit-error" : undefined}>Save</button>
      </footer>
    </Dialog>
  );
}

function RemoveDialog({ id, onClose, onDone }: { id: string; onClose: () => void; onDone: () => void }) {
  const { busy, error, run } = useAction();
  const submit = async () => {
    if (await run(() => api.del(`/api/strategies/${encodeURIComponent(id)}`))) onDone();
  };
  return (
    <Dialog title={`Remove ${id}?`} onClose={onClose} onSubmit={() => void submit()}>
      <p>An open position of {id} is closed first at the last price, with a fill.</p>
      {error && <p role="alert" className="error-text dialog-error">{error}</p>}
      <footer className="dialog-foot">
        <button type="button" onClick={onClose} autoFocus>Cancel</button>
        <button type="submit" className="danger" disabled={busy}>Remove</button>
      </footer>
    </Dialog>
  );
}
