// The trend form: a bar file on the server, an upload or a live coin; the timeframes to
// analyse; whether to suggest strategies (and on how many bars and folds). It only gathers;
// the page runs the analysis.
import { useId } from "react";
import { type DataFile, DataFileField } from "../components/DataFileField";
import { toggleTimeframe, type TrendForm as FormState } from "./report";

interface Props {
  form: FormState;
  onChange: (form: FormState) => void;
  dataFiles: DataFile[];
  coins: string[];
  /** The timeframes the input may be analysed on, finest first. */
  choices: string[];
  /** Those ticked when the trader has ticked none: the last report's, else none. */
  shown: string[];
  /** The live report's timeframes (the engine's own bars and coarser ones), when it has one. */
  liveTimeframes: string[];
  running: boolean;
  busy: boolean;
  onAnalyze: () => void;
  onCancel: () => void;
  children?: React.ReactNode; // progress, messages
}

export function TrendForm({ form, onChange, dataFiles, coins, choices, shown, liveTimeframes, running, busy, onAnalyze, onCancel, children }: Props) {
  const id = useId();
  const set = (patch: Partial<FormState>) => onChange({ ...form, ...patch });
  const live = form.source === "live";
  const ticked = form.timeframes ?? shown;

  return (
    <form role="form" aria-label="Trend analysis" className="trend-form"
          onSubmit={(event) => { event.preventDefault(); if (!running && !busy) onAnalyze(); }}>
      <fieldset className="source" disabled={running}>
        <legend>Bars</legend>
        <label><input type="radio" name={`${id}-source`} checked={!live}
                      onChange={() => set({ source: "file", timeframes: null })} /> Bar file</label>
        <label><input type="radio" name={`${id}-source`} checked={live}
                      onChange={() => set({ source: "live", timeframes: null })} /> Live coin</label>
      </fieldset>

      {live ? (
        <div className="field">
          <label htmlFor={`${id}-coin`}>Coin</label>
          <select id={`${id}-coin`} value={form.coin} disabled={running} aria-describedby={`${id}-coin-note`}
                  onChange={(e) => set({ coin: e.target.value })}>
            {!coins.length && <option value="">(the engine trades no coin)</option>}
            {coins.map((coin) => <option key={coin} value={coin}>{coin}</option>)}
          </select>
          <span id={`${id}-coin-note`} className="note">
            the engine's candles of the coin, read again every 5 s while it runs
          </span>
        </div>
      ) : (
        <DataFileField dataFiles={dataFiles} dataFile={form.dataFile} upload={form.upload} disabled={running}
                       onDataFile={(dataFile) => set({ dataFile, timeframes: null })}
                       onUpload={(upload) => set({ upload, timeframes: null })} />
      )}

      <fieldset className="timeframes" disabled={running || live} aria-describedby={`${id}-tf-note`}>
        <legend>Timeframes</legend>
        <div className="checks">
          {(live ? liveTimeframes : choices).map((name) => (
            <label key={name}>
              <input type="checkbox" checked={live || ticked.includes(name)}
                     onChange={() => set({ timeframes: toggleTimeframe(ticked, name, choices) })} /> {name}
            </label>
          ))}
        </div>
        <span id={`${id}-tf-note`} className="note">
          {live ? "the engine's own bars and coarser ones, as the live analysis picks them"
            : form.timeframes === null && !shown.length
              ? "none ticked: the input's own and up to three coarser"
              : "the input's own bar size and coarser ones resampled from it"}
        </span>
      </fieldset>

      <fieldset className="suggest" disabled={running || live}>
        <legend className="sr-only">Suggestions</legend>
        <label className="toggle">
          <input type="checkbox" checked={form.suggest && !live} aria-describedby={`${id}-suggest-note`}
                 onChange={(e) => set({ suggest: e.target.checked })} /> Suggest strategies
        </label>
        <span id={`${id}-suggest-note`} className="note">
          {live ? "suggestions are for a bar file: a walk-forward optimisation of every strategy"
            : "walk-forward optimisation of every strategy on the recent bars, against holding"}
        </span>
        {form.suggest && !live && (
          <div className="field-grid">
            <div className="field">
              <label htmlFor={`${id}-bars`}>Bars for suggestions</label>
              <input id={`${id}-bars`} type="number" min={100} step={100} value={form.suggestBars}
                     onChange={(e) => set({ suggestBars: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor={`${id}-folds`}>Folds</label>
              <input id={`${id}-folds`} type="number" min={1} max={20} step={1} value={form.folds}
                     onChange={(e) => set({ folds: e.target.value })} />
            </div>
          </div>
        )}
      </fieldset>

      <div className="actions">
        <button type="submit" className="primary" disabled={running || busy}>Analyze</button>
        {running && <button type="button" className="danger" onClick={onCancel}>Cancel</button>}
      </div>
      {children}
    </form>
  );
}
