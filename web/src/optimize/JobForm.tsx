// The job form: a bar file on the server or an upload, a strategy, a range per declared
// parameter with the combination count as it is typed, the ranking metric, the in-sample
// share, the walk-forward folds and the fee. It only gathers and checks; the page runs the job.
import { useId, useMemo } from "react";
import { DataFileField } from "../components/DataFileField";
import type { AvailableStrategy, ParamSpec } from "../lib/types";
import {
  combinationsText, defaultRange, gridSize, MAX_COMBINATIONS, numberText, planGrid, type RangeInput,
  validCount,
} from "./grid";
import { METRICS, type DataFile, type JobIn } from "./types";

export interface FormState {
  dataFile: string;
  upload: File | null;
  strategy: string;
  rows: Record<string, RangeInput>;
  metric: string;
  inSample: string;
  walkForward: string; // empty or 0: none
  fee: string;      // percent of the fill's value, as the window asks it
  random: string;   // empty: every combination
}

export function defaultRows(strategy: AvailableStrategy | undefined): Record<string, RangeInput> {
  return Object.fromEntries((strategy?.params ?? []).map((p) => [p.name, defaultRange(p)]));
}

/** The request the form stands for, or the sentence saying what to fix first. */
export function jobRequest(form: FormState, strategy: AvailableStrategy | undefined):
  { job: JobIn } | { problem: string } {
  if (!strategy) return { problem: "choose a strategy" };
  if (!form.upload && !form.dataFile) return { problem: "choose a data file or upload one" };
  const plan = planGrid(strategy.params, form.rows);
  if (plan.problems.length) return { problem: plan.problems[0] };
  const inSample = Number(form.inSample);
  if (!(inSample > 0 && inSample <= 1)) {
    return { problem: "the in-sample fraction must be above 0 and at most 1" };
  }
  const folds = form.walkForward.trim() === "" ? 0 : Number(form.walkForward);
  if (!(Number.isInteger(folds) && folds >= 0 && folds <= 50)) {
    return { problem: "walk-forward folds must be a whole number from 0 (none) to 50" };
  }
  const fee = Number(form.fee);
  if (form.fee.trim() === "" || !(fee >= 0 && fee < 100)) {
    return { problem: "the fee must be a percentage from 0 to under 100" };
  }
  const random = form.random.trim() === "" ? null : Number(form.random);
  if (random !== null && !(Number.isInteger(random) && random >= 1 && random <= MAX_COMBINATIONS)) {
    return { problem: `random samples must be a whole number from 1 to ${MAX_COMBINATIONS.toLocaleString("en-US")}` };
  }
  return {
    job: {
      ...(form.upload ? {} : { data_file: form.dataFile }),
      strategy: strategy.name, grid: plan.request, metric: form.metric,
      in_sample: inSample, walk_forward: folds, fee: Number((fee / 100).toPrecision(12)), random,
    },
  };
}

interface Props {
  form: FormState;
  onChange: (form: FormState) => void;
  strategies: AvailableStrategy[];
  dataFiles: DataFile[];
  running: boolean;
  busy: boolean; // submitting or uploading
  onRun: () => void;
  onCancel: () => void;
  children?: React.ReactNode; // progress, messages
}

export function JobForm({ form, onChange, strategies, dataFiles, running, busy, onRun, onCancel, children }: Props) {
  const id = useId();
  const strategy = strategies.find((s) => s.name === form.strategy);
  const set = (patch: Partial<FormState>) => onChange({ ...form, ...patch });
  const plan = useMemo(() => planGrid(strategy?.params ?? [], form.rows), [strategy, form.rows]);
  const size = gridSize(plan.values);
  const valid = useMemo(() => (size > 0 && size <= MAX_COMBINATIONS && strategy
    ? validCount(strategy.params, strategy.constraints, plan.values) : null), [plan, size, strategy]);
  const rowProblem = (param: ParamSpec) =>
    plan.problems.find((p) => p.startsWith(`${param.name}:`) || p.startsWith(`grid of ${param.name}:`));

  return (
    <form role="form" aria-label="Optimisation job" className="job-form"
          onSubmit={(event) => { event.preventDefault(); if (!running && !busy) onRun(); }}>
      <DataFileField dataFiles={dataFiles} dataFile={form.dataFile} upload={form.upload} disabled={running}
                     onDataFile={(dataFile) => set({ dataFile })} onUpload={(upload) => set({ upload })} />
      <div className="field">
        <label htmlFor={`${id}-strategy`}>Strategy</label>
        <select id={`${id}-strategy`} value={form.strategy} disabled={running}
                aria-describedby={`${id}-strategy-doc`}
                onChange={(e) => {
                  const next = strategies.find((s) => s.name === e.target.value);
                  set({ strategy: e.target.value, rows: defaultRows(next) });
                }}>
          {strategies.map((s) => <option key={s.name} value={s.name}>{s.name}</option>)}
        </select>
        <span id={`${id}-strategy-doc`} className="note">
          {strategy?.description}
          {strategy?.constraints.length ? ` Rule: ${strategy.constraints.join(", ")}.` : ""}
        </span>
      </div>

      <fieldset className="ranges" disabled={running}>
        <legend>Ranges</legend>
        <div className="range-head" aria-hidden="true">
          <span>parameter</span><span>from</span><span>to</span><span>step</span>
        </div>
        {(strategy?.params ?? []).map((param) => {
          const row = form.rows[param.name] ?? { from: "", to: "", step: "" };
          const problem = rowProblem(param);
          const setRow = (patch: Partial<RangeInput>) =>
            set({ rows: { ...form.rows, [param.name]: { ...row, ...patch } } });
          const docId = `${id}-${param.name}-doc`;
          return (
            <div className="range-row" key={param.name}>
              <span className="param-name" title={param.doc}>{param.name}</span>
              {(["from", "to", "step"] as const).map((part) => (
                <input key={part} type="text" inputMode="decimal" autoComplete="off"
                       aria-label={`${param.name} ${part}`} aria-describedby={docId}
                       aria-invalid={problem ? true : undefined}
                       placeholder={part === "from" && !row.to ? numberText(Number(param.default))
                         : part === "step" && param.step != null ? numberText(param.step) : ""}
                       value={row[part]} onChange={(e) => setRow({ [part]: e.target.value })} />
              ))}
              <span id={docId} className="sr-only">
                {param.doc} Default {String(param.default)}
                {param.low != null ? `, from ${numberText(param.low)}` : ""}
                {param.high != null ? ` to ${numberText(param.high)}` : ""}. Empty: held at its default.
              </span>
            </div>
          );
        })}
        <div className="combos" aria-live="polite">
          <span data-testid="combinations" className={size > MAX_COMBINATIONS ? "loss" : undefined}>
            {combinationsText(size)}
          </span>
          {plan.isDefault && <span className="note"> the default search</span>}
          {valid !== null && valid !== size && (
            <span className={valid === 0 ? "loss" : "note"} data-testid="valid-combinations">
              {" "}· {valid.toLocaleString("en-US")} after {strategy?.constraints.join(", ") || "the bounds"}
            </span>
          )}
          {plan.problems.length > 0 && <div className="loss">{plan.problems[0]}</div>}
        </div>
      </fieldset>

      <div className="field-grid">
        <div className="field">
          <label htmlFor={`${id}-metric`}>Metric</label>
          <select id={`${id}-metric`} value={form.metric} disabled={running}
                  onChange={(e) => set({ metric: e.target.value })}>
            {METRICS.map((m) => <option key={m.key} value={m.key}>{m.title}{m.higherIsBetter ? "" : " (lower first)"}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor={`${id}-is`}>In-sample fraction</label>
          <input id={`${id}-is`} type="number" min={0.05} max={1} step={0.05} disabled={running}
                 title="share of the bars the ranking uses; the rest scores each row out of sample"
                 value={form.inSample} onChange={(e) => set({ inSample: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-wf`}>Walk-forward folds</label>
          <input id={`${id}-wf`} type="number" min={0} max={50} step={1} disabled={running} placeholder="none"
                 title="cut the bars into K+1 windows: each fold ranks on one and scores its best on the next"
                 value={form.walkForward} onChange={(e) => set({ walkForward: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-fee`}>Fee per fill (%)</label>
          <input id={`${id}-fee`} type="number" min={0} max={5} step={0.01} disabled={running}
                 value={form.fee} onChange={(e) => set({ fee: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-random`}>Random samples</label>
          <input id={`${id}-random`} type="number" min={1} max={MAX_COMBINATIONS} step={1} disabled={running}
                 placeholder="all" title="try N distinct valid combinations drawn at random instead of all"
                 value={form.random} onChange={(e) => set({ random: e.target.value })} />
        </div>
      </div>

      <div className="actions">
        <button type="submit" className="primary" disabled={running || busy}>Run</button>
        {running && <button type="button" className="danger" onClick={onCancel}>Cancel</button>}
      </div>
      {children}
    </form>
  );
}
