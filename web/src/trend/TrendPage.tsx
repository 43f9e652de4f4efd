// The Trend page: what the market does on each timeframe of a bar file (a server file or an
// upload, analysed as a job with progress and Cancel) or of a live coin (the engine's own
// candles, read again while it runs); the timeframe table, the chosen timeframe's chart with
// its levels, trend line and breakouts, and the strategies suggested for it with Apply.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApplyDialog } from "../components/ApplyDialog";
import type { DataFile } from "../components/DataFileField";
import { JobProgress } from "../components/JobProgress";
import { api, errorText, isAbort } from "../lib/api";
import { coinFromFile, TIMEFRAMES, timeframeFromFile } from "../lib/live";
import type { EngineStatus } from "../lib/types";
import { JOBS, jobPath, useJobPolling, useLiveTrend } from "./polling";
import {
  analyzeRequest, chartTimeframe, DEFAULT_FORM, reportHeading, timeframeChoices, timeframeSeconds,
  type TrendForm as FormState,
} from "./report";
import { SuggestionsPanel } from "./SuggestionsPanel";
import { TimeframeTable } from "./TimeframeTable";
import { TrendChart } from "./TrendChart";
import { TrendForm } from "./TrendForm";
import type { Suggestion, TrendJob, TrendReport } from "./types";
import "./trend.css";

export function TrendPage() {
  const [dataFiles, setDataFiles] = useState<DataFile[]>([]);
  const [coins, setCoins] = useState<string[]>([]);
  const [form, setForm] = useState<FormState>(DEFAULT_FORM);
  const [job, setJob] = useState<TrendJob | null>(null);
  const [report, setReport] = useState<TrendReport | null>(null);
  const [asked, setAsked] = useState(false); // whether the report on show was asked for suggestions
  const [following, setFollowing] = useState<string | null>(null); // the live coin read again
  const [uploading, setUploading] = useState<number | null>(null);
  const uploadAbort = useRef<AbortController | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState("");
  const [wanted, setWanted] = useState<string | null>(null); // the timeframe the trader chose to chart
  const [applying, setApplying] = useState<Suggestion | null>(null);
  const running = job?.status === "running";

  const loadDataFiles = useCallback(async () => {
    const files = await api.get<DataFile[]>("/api/optimization/data-files");
    setDataFiles(files);
    return files;
  }, []);

  const showJob = useCallback((next: TrendJob) => {
    setJob(next);
    if (next.report) setReport(next.report);
    if (next.status === "error" && next.error) setError(next.error);
  }, []);

  // first load: the files, the engine's coins, and the newest job (a reload shows its report)
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const [files, status] = await Promise.all([loadDataFiles(), api.get<EngineStatus>("/api/engine/status")]);
        if (!live) return;
        const sample = files.find((f) => /sample/i.test(f.name)) ?? files[0];
        setCoins(status.coins);
        setForm((f) => ({ ...f, dataFile: f.dataFile || sample?.name || "", coin: f.coin || status.coins[0] || "" }));
      } catch (e) {
        if (live) setError(errorText(e));
      }
      try {
        const jobs = await api.get<TrendJob[]>(JOBS);
        if (!live || !jobs.length) return;
        const newest = await api.get<TrendJob>(jobPath(jobs[0].job_id));
        if (live) showJob(newest);
      } catch {
        // no earlier job to reopen: the page starts empty
      }
    })();
    return () => {
      live = false;
    };
  }, [loadDataFiles, showJob]);

  useJobPolling(job?.job_id ?? null, running, showJob, setError);
  useLiveTrend(following, {
    onReport: (next) => {
      setReport(next);
      setError("");
    },
    onCoins: setCoins,
    onError: setError,
  });

  // a live coin: the engine's coins as they are now; back to a bar file: stop reading the coin
  useEffect(() => {
    if (form.source !== "live") {
      setFollowing(null);
      return;
    }
    api.get<EngineStatus>("/api/engine/status").then((status) => {
      setCoins(status.coins);
      setForm((f) => ({ ...f, coin: status.coins.includes(f.coin) ? f.coin : status.coins[0] ?? "" }));
    }).catch(() => undefined);
  }, [form.source]);

  const analyze = async () => {
    setError("");
    if (form.source === "live") {
      if (!form.coin) {
        setError("choose a coin the engine trades (start it on the Live page)");
        return;
      }
      setJob(null);
      setAsked(false);
      setFollowing(form.coin);
      return;
    }
    const made = analyzeRequest(form, null);
    if ("problem" in made) {
      setError(made.problem);
      return;
    }
    setFollowing(null);
    setSubmitting(true);
    try {
      let started: TrendJob;
      if (form.upload) {
        const body = new FormData();
        body.append("file", form.upload, form.upload.name);
        body.append("request", JSON.stringify(made.request));
        setUploading(0);
        uploadAbort.current = new AbortController();
        started = await api.upload<TrendJob>("/api/trend/analyze/upload", body, setUploading, uploadAbort.current.signal);
        // the upload is now a server file: later runs name it instead of sending it again
        await loadDataFiles().catch(() => undefined);
        setForm((f) => ({ ...f, upload: null, dataFile: started.data }));
      } else {
        started = await api.post<TrendJob>("/api/trend/analyze", made.request);
      }
      setAsked(made.request.suggest);
      setReport(null); // the table, chart and suggestions are the new job's, not the last one's
      showJob(started);
    } catch (e) {
      setError(isAbort(e) ? "Upload cancelled: the server kept nothing of it, and no job started." : errorText(e));
    } finally {
      setSubmitting(false);
      setUploading(null);
      uploadAbort.current = null;
    }
  };

  const cancelUpload = () => uploadAbort.current?.abort();

  const cancel = async () => {
    if (!job) return;
    try {
      showJob(await api.post<TrendJob>(`${jobPath(job.job_id)}/cancel`));
    } catch (e) {
      setError(errorText(e));
    }
  };

  // the timeframes the input may be analysed on: from the report of this input, else its name
  const input = form.upload?.name ?? form.dataFile;
  const sameInput = report !== null && form.source === "file" && report.source !== "live"
    && (report.source === input || report.source === job?.data);
  const interval = sameInput ? report.interval : timeframeSeconds(timeframeFromFile(input) ?? "");
  // unknown until analysed: the sizes an hour's bars allow, the commonest bar files' size
  const choices = useMemo(() => timeframeChoices(interval ?? 3_600), [interval]);
  const shown = sameInput ? report.timeframes.map((tf) => tf.timeframe).filter((tf) => choices.includes(tf)) : [];

  const chosen = chartTimeframe(report, wanted);
  // with nothing to draw, the finest timeframe still says why (too few bars yet)
  const timeframe = report?.timeframes.find((tf) => tf.timeframe === chosen) ?? report?.timeframes[0] ?? null;
  const drawable = report?.timeframes.filter((tf) => tf.ok && tf.candles?.time.length) ?? [];
  const heading = report ? reportHeading(report) : "";
  const applyCoin = report?.coin ?? coinFromFile(report?.source ?? input);

  return (
    <section aria-label="Trend" className="trend">
      <div className="trend-side">
        <div className="panel form-panel">
          <h2>Trend analysis</h2>
          <TrendForm form={form} onChange={setForm} dataFiles={dataFiles} coins={coins} choices={choices}
                     shown={shown} running={running} busy={submitting}
                     liveTimeframes={report?.source === "live" ? report.timeframes.map((tf) => tf.timeframe) : []}
                     onAnalyze={() => void analyze()} onCancel={() => void cancel()}>
            <JobProgress job={job} uploading={uploading} label="Trend analysis progress" onCancelUpload={cancelUpload} />
            {following && <p className="progress-text" role="status">following {following} live</p>}
            {error && <p role="alert" className="error-text alert">{error}</p>}
          </TrendForm>
        </div>
        {report && report.warnings.length > 0 && (
          <section className="panel warnings-panel" aria-label="Warnings">
            <h2>Warnings</h2>
            <ul>{report.warnings.map((warning) => <li key={warning} className="warn">{warning}</li>)}</ul>
          </section>
        )}
      </div>

      <div className="trend-main">
        <section className="panel table-panel" aria-label="Timeframe table">
          <h2>Timeframes<span className="count" title={heading}>{heading}</span></h2>
          <div className="scroll">
            {report ? <TimeframeTable timeframes={report.timeframes} chosen={chosen} onChoose={setWanted} />
              : <p className="muted empty">{running ? "Analysing…" : "No report yet: analyze a bar file or a live coin."}</p>}
          </div>
        </section>
        <section className="panel chart-panel" aria-label="Trend chart">
          <h2>
            Chart
            <span className="coin-tabs" role="group" aria-label="Chart timeframe">
              {drawable.map((tf) => (
                <button key={tf.timeframe} type="button" className={`tab ${tf.timeframe === chosen ? "on" : ""}`}
                        aria-pressed={tf.timeframe === chosen} onClick={() => setWanted(tf.timeframe)}>{tf.timeframe}</button>
              ))}
            </span>
            <span className="legend" aria-hidden="true">
              <span className="gain">- - support</span><span className="loss">- - resistance</span>
              <span className="trend-key">— trend ± channel</span>
            </span>
          </h2>
          <TrendChart timeframe={timeframe} view={`${job?.job_id ?? ""}:${report?.source ?? ""}:${timeframe?.timeframe ?? ""}`} />
        </section>
        <SuggestionsPanel suggestions={report?.suggestions ?? null} asked={asked || Boolean(report?.suggestions)}
                          running={running} onApply={setApplying} />
      </div>

      {applying && (
        <ApplyDialog strategy={applying.strategy} params={applying.params} rank={applying.rank}
                     defaultCoin={applyCoin}
                     defaultTimeframe={TIMEFRAMES.some(([name]) => name === applying.timeframe) ? applying.timeframe : "tick"}
                     onClose={() => setApplying(null)} />
      )}
    </section>
  );
}
