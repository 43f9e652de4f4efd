// "Test on history": a bar file replayed through the rules (the current ones, or those
// ticked), optionally beside a backtest of a strategy, as a job with progress; then when each
// rule would have fired, at what price, and what its action would have changed.
import { useEffect, useId, useState } from "react";
import type { DataFile } from "../components/DataFileField";
import { JobProgress } from "../components/JobProgress";
import { api, errorText } from "../lib/api";
import { count, pct, price as priceText, utc } from "../lib/format";
import { coinFromFile } from "../lib/live";
import type { AvailableStrategy } from "../lib/types";
import { ENDED } from "../optimize/types";
import { parseParamsText } from "./rules";
import type { Effect, Rule, TestJob, TestResult } from "./types";

const POLL_MS = 300;
const SHOWN_FIRINGS = 500;

const actionName = (action: Effect["action"]) => action === null ? "" : typeof action === "string" ? action : action.type;

/** The result a finished job carries (the service names it result; report is accepted too). */
function resultOf(job: TestJob): TestResult | null {
  return job.result ?? (job as { report?: TestResult | null }).report ?? null;
}

export function TestPanel({ rules }: { rules: Rule[] }) {
  const id = useId();
  const [dataFiles, setDataFiles] = useState<DataFile[]>([]);
  const [strategies, setStrategies] = useState<AvailableStrategy[]>([]);
  const [dataFile, setDataFile] = useState("");
  const [coin, setCoin] = useState("");
  const [skipped, setSkipped] = useState<Set<string>>(new Set());
  const [strategy, setStrategy] = useState("");
  const [params, setParams] = useState("");
  const [job, setJob] = useState<TestJob | null>(null);
  const [error, setError] = useState("");
  const running = job?.status === "running";
  const result = job ? resultOf(job) : null;

  useEffect(() => {
    api.get<DataFile[]>("/api/optimization/data-files").then((files) => {
      setDataFiles(files);
      const first = files.find((f) => /sample/i.test(f.name)) ?? files[0];
      if (first) {
        setDataFile((f) => f || first.name);
        setCoin((c) => c || coinFromFile(first.name));
      }
    }, (e) => setError(errorText(e)));
    api.get<AvailableStrategy[]>("/api/strategies/available").then(setStrategies, () => undefined);
  }, []);

  // poll the job until it ends
  useEffect(() => {
    if (!job || !running) return undefined;
    let stopped = false;
    const timer = window.setTimeout(async () => {
      try {
        const next = await api.get<TestJob>(`/api/copilot/test/${encodeURIComponent(job.job_id)}`);
        if (stopped) return;
        setJob(next);
        if (next.status === "error" && next.error) setError(next.error);
      } catch (e) {
        if (!stopped) setError(errorText(e));
      }
    }, POLL_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [job, running]);

  const chosen = rules.filter((r) => !skipped.has(r.id));
  const submit = async () => {
    setError("");
    const parsed = params.trim() ? parseParamsText(params) : {};
    if (typeof parsed === "string") {
      setError(`parameters: ${parsed}`);
      return;
    }
    if (!chosen.length) {
      setError("tick at least one rule (write one on the Rules panel first)");
      return;
    }
    try {
      const started = await api.post<TestJob>("/api/copilot/test", {
        data_file: dataFile, rules: chosen, strategy: strategy || null, params: parsed,
        coin: coin.trim().toUpperCase() || "BTC", wait: false,
      });
      setJob(started);
      if (ENDED.has(started.status) && started.error) setError(started.error);
    } catch (e) {
      setError(errorText(e));
    }
  };

  return (
    <div className="test-panel">
      <section role="region" aria-label="Test on history" className="panel">
        <h2 className="panel-title">Test on history</h2>
        <form className="test-form" aria-label="Test on history"
              onSubmit={(e) => { e.preventDefault(); if (!running) void submit(); }}>
          <div className="field">
            <label htmlFor={`${id}-file`}>Data file</label>
            <select id={`${id}-file`} value={dataFile} disabled={running}
                    onChange={(e) => { setDataFile(e.target.value); setCoin(coinFromFile(e.target.value)); }}>
              {!dataFiles.length && <option value="">(no bar files on the server)</option>}
              {dataFiles.map((f) => <option key={`${f.folder}/${f.name}`} value={f.name}>{f.name}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-coin`}>Coin</label>
            <input id={`${id}-coin`} value={coin} disabled={running} autoComplete="off"
                   onChange={(e) => setCoin(e.target.value)} />
          </div>
          <fieldset className="test-rules" disabled={running}>
            <legend>Rules</legend>
            {rules.map((rule) => (
              <label key={rule.id}>
                <input type="checkbox" checked={!skipped.has(rule.id)} onChange={(e) => setSkipped((s) => {
                  const next = new Set(s);
                  if (e.target.checked) next.delete(rule.id);
                  else next.add(rule.id);
                  return next;
                })} /> {rule.name}
              </label>
            ))}
            {!rules.length && <span className="muted">no rule yet</span>}
          </fieldset>
          <div className="field">
            <label htmlFor={`${id}-strategy`}>Strategy (optional)</label>
            <select id={`${id}-strategy`} value={strategy} disabled={running} aria-describedby={`${id}-strategy-doc`}
                    onChange={(e) => setStrategy(e.target.value)}>
              <option value="">none: the rules alone</option>
              {strategies.map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
            </select>
            <small id={`${id}-strategy-doc`} className="muted field-doc">
              backtested with and without the rules' actions, to show what they change
            </small>
          </div>
          {strategy && (
            <div className="field">
              <label htmlFor={`${id}-params`}>Parameters</label>
              <input id={`${id}-params`} value={params} placeholder="defaults, or fast=10 slow=30" disabled={running}
                     autoComplete="off" onChange={(e) => setParams(e.target.value)} />
            </div>
          )}
          <div className="actions">
            <button type="submit" className="primary" disabled={running || !dataFile}>Run test</button>
          </div>
          <JobProgress job={job} uploading={null} label="Test progress" />
          {error && <p role="alert" className="error-text">{error}</p>}
        </form>
      </section>
      <TestResults result={result} rules={rules} />
    </div>
  );
}

function TestResults({ result, rules }: { result: TestResult | null; rules: Rule[] }) {
  const names = new Map(rules.map((r) => [r.id, r.name]));
  const firings = result?.firings ?? [];
  return (
    <div className="test-results">
      <section role="region" aria-label="Firings" className="panel">
        <h2 className="panel-title">
          Firings <span className="muted count-badge" data-testid="firings-count">{result ? count(firings.length) : ""}</span>
          <span className="counts">
            {result && Object.entries(result.counts).map(([rule, n]) => (
              <span key={rule} data-rule-count={rule}>{names.get(rule) ?? rule}: {count(n)}</span>
            ))}
          </span>
        </h2>
        <div className="scroll">
          <table className="grid history-table">
            <thead><tr><th>Time (UTC)</th><th>Rule</th><th className="num">Price</th><th className="num">Value</th>
              <th>Message</th><th>Action</th></tr></thead>
            <tbody>
              {firings.slice(0, SHOWN_FIRINGS).map((f, i) => (
                <tr key={`${f.rule_id}.${f.time}.${i}`} data-firing={f.rule_id}>
                  <td>{utc(f.time, false)}</td><td className="ellipsis">{names.get(f.rule_id) ?? f.rule_id}</td>
                  <td className="num">{f.price === null ? "" : priceText(f.price)}</td>
                  <td className="num">{f.value === null ? "" : priceText(f.value)}</td>
                  <td className="ellipsis wide-cell" title={f.message}>{f.message}</td>
                  <td>{actionName(f.action as Effect["action"])}</td>
                </tr>
              ))}
              {firings.length > SHOWN_FIRINGS && (
                <tr><td colSpan={6} className="muted">and {count(firings.length - SHOWN_FIRINGS)} more</td></tr>
              )}
              {!firings.length && (
                <tr><td colSpan={6} className="muted empty">{result ? "No rule would have fired on this file." : "Run a test to see when each rule would have fired."}</td></tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
      <section role="region" aria-label="Effects" className="panel effects-panel">
        <h2 className="panel-title">What the actions would have changed</h2>
        <div className="scroll">
          <table className="grid history-table">
            <thead>
              <tr>
                <th rowSpan={2}>Rule</th><th rowSpan={2}>Action</th><th rowSpan={2}>Strategy</th>
                <th colSpan={2} scope="colgroup" className="group">Return</th>
                <th colSpan={2} scope="colgroup" className="group">Max drawdown</th>
                <th colSpan={2} scope="colgroup" className="group">Trades</th>
                <th rowSpan={2} className="num">Drawdown saved</th>
              </tr>
              <tr className="sub">
                {["Return", "Max drawdown", "Trades"].flatMap((what) => [
                  <th key={`${what}-without`} className="num" aria-label={`${what} without the action`}>without</th>,
                  <th key={`${what}-with`} className="num" aria-label={`${what} with the action`}>with</th>,
                ])}
              </tr>
            </thead>
            <tbody>
              {(result?.effects ?? []).map((e, i) => (
                <tr key={`${e.rule_id}.${i}`} data-effect={e.rule_id}>
                  <td className="ellipsis">{names.get(e.rule_id) ?? e.rule_id}</td><td>{actionName(e.action)}</td>
                  <td>{e.strategy ?? ""}</td>
                  <td className="num">{pct(e.without.return_pct, 2, true)}</td><td className="num">{pct(e.with.return_pct, 2, true)}</td>
                  <td className="num">{pct(e.without.max_drawdown_pct, 2)}</td><td className="num">{pct(e.with.max_drawdown_pct, 2)}</td>
                  <td className="num">{count(e.without.trades)}</td><td className="num">{count(e.with.trades)}</td>
                  <td className={`num ${(e.drawdown_saved_pct ?? 0) > 0 ? "gain" : ""}`}>{pct(e.drawdown_saved_pct, 2)}</td>
                </tr>
              ))}
              {!result?.effects.length && (
                <tr><td colSpan={10} className="muted empty">
                  {result ? "No action to weigh: give a rule an action and choose a strategy." : "With a strategy chosen, each action's effect on its backtest shows here."}
                </td></tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
