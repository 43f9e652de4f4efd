// The Optimisation page: a job form (file, strategy, ranges, metric), the running job's
// progress polled every 300 ms, and, once it ends, its ranked results, a heatmap over two
// parameters, the selected row's equity and fills, and "Apply to live". Earlier jobs are
// listed so that a reloaded page can reopen one.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, errorText, isAbort } from "../lib/api";
import { count, utc } from "../lib/format";
import type { AvailableStrategy } from "../lib/types";
import { ApplyDialog } from "../components/ApplyDialog";
import { JobProgress } from "../components/JobProgress";
import { resultColumns, scoreText, sortRows } from "./columns";
import { HeatmapView } from "./HeatmapView";
import { variedParams } from "./heatmap";
import { defaultRows, type FormState, JobForm, jobRequest } from "./JobForm";
import { barInterval, barTimeframe, coinFromFile, timeframeFromFile } from "../lib/live";
import { RowDetail, useRowBacktest } from "./RowDetail";
import {
  DEFAULT_METRIC, type DataFile, ENDED, type Fold, type Job, type Metric, metricOf, type Results, type ResultRow,
} from "./types";
import { type Sort, VirtualTable } from "./VirtualTable";
import { barsText, foldParams, walkForwardSummary } from "./walkForward";
import "./optimize.css";

const POLL_MS = 300;
const RESULT_LIMIT = 500;
const JOBS = "/api/optimization/jobs";

const jobPath = (jobId: string) => `${JOBS}/${encodeURIComponent(jobId)}`;

export function OptimizePage() {
  const [strategies, setStrategies] = useState<AvailableStrategy[]>([]);
  const [dataFiles, setDataFiles] = useState<DataFile[]>([]);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [form, setForm] = useState<FormState>({
    dataFile: "", upload: null, strategy: "", rows: {}, metric: DEFAULT_METRIC, inSample: "0.7",
    walkForward: "", fee: "0.1", random: "",
  });
  const [job, setJob] = useState<Job | null>(null);
  const [sampled, setSampled] = useState(false);
  const [uploading, setUploading] = useState<number | null>(null); // fraction sent
  const uploadAbort = useRef<AbortController | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState("");
  const [results, setResults] = useState<Results | null>(null);
  const [selectedRank, setSelectedRank] = useState<number | null>(null);
  const [sort, setSort] = useState<Sort>({ key: "rank", direction: "ascending" });
  const [applying, setApplying] = useState(false);
  const running = job?.status === "running";

  const loadJobs = useCallback(async () => {
    try {
      const list = await api.get<Job[]>(JOBS);
      setJobs(list);
      return list;
    } catch (e) {
      setError(errorText(e));
      return [];
    }
  }, []);

  const loadDataFiles = useCallback(async () => {
    const files = await api.get<DataFile[]>("/api/optimization/data-files");
    setDataFiles(files);
    return files;
  }, []);

  const openResults = useCallback(async (ended: Job) => {
    setResults(null);
    setSelectedRank(null);
    setSort({ key: "rank", direction: "ascending" });
    if (ended.status === "error") return;
    try {
      const reply = await api.get<Results>(`${jobPath(ended.job_id)}/results`, { limit: RESULT_LIMIT });
      setResults(reply);
      setSelectedRank(reply.results.length ? reply.results[0].rank : null);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  const openJob = useCallback((chosen: Job, random = false) => {
    setError("");
    setJob(chosen);
    setSampled(random);
    if (ENDED.has(chosen.status)) void openResults(chosen);
    else {
      setResults(null);
      setSelectedRank(null);
    }
  }, [openResults]);

  // first load: the strategies, the files and the jobs; reopen the newest job
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const [available, files, list] = await Promise.all([
          api.get<AvailableStrategy[]>("/api/strategies/available"), loadDataFiles(), loadJobs(),
        ]);
        if (!live) return;
        setStrategies(available);
        const first = available.find((s) => s.name === "SMA_Crossover") ?? available[0];
        const sample = files.find((f) => /sample/i.test(f.name)) ?? files[0];
        setForm((f) => ({
          ...f, strategy: first?.name ?? "", rows: defaultRows(first), dataFile: sample?.name ?? "",
        }));
        if (list.length) openJob(list[0]);
      } catch (e) {
        if (live) setError(errorText(e));
      }
    })();
    return () => {
      live = false;
    };
  }, [loadDataFiles, loadJobs, openJob]);

  // poll the running job; when it ends, its results
  const jobId = job?.job_id;
  useEffect(() => {
    if (!jobId || !running) return undefined;
    let timer: number | undefined;
    let stopped = false;
    const poll = async () => {
      try {
        const next = await api.get<Job>(jobPath(jobId));
        if (stopped) return;
        setJob(next);
        if (ENDED.has(next.status)) {
          if (next.status === "error" && next.error) setError(next.error);
          void openResults(next);
          void loadJobs();
          return;
        }
      } catch (e) {
        if (stopped) return;
        setError(errorText(e));
      }
      timer = window.setTimeout(poll, POLL_MS);
    };
    timer = window.setTimeout(poll, POLL_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [jobId, running, openResults, loadJobs]);

  const strategy = strategies.find((s) => s.name === form.strategy);

  const run = async () => {
    setError("");
    const request = jobRequest(form, strategy);
    if ("problem" in request) {
      setError(request.problem);
      return;
    }
    setSubmitting(true);
    try {
      let started: Job;
      if (form.upload) {
        const body = new FormData();
        body.append("file", form.upload, form.upload.name);
        body.append("job", JSON.stringify(request.job));
        setUploading(0);
        uploadAbort.current = new AbortController();
        started = await api.upload<Job>(`${JOBS}/upload`, body, setUploading, uploadAbort.current.signal);
        // the upload is now a server file: later runs name it instead of sending it again
        await loadDataFiles().catch(() => undefined);
        setForm((f) => ({ ...f, upload: null, dataFile: started.data }));
      } else {
        started = await api.post<Job>(JOBS, request.job);
      }
      openJob(started, request.job.random != null);
      void loadJobs();
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
      setJob(await api.post<Job>(`${jobPath(job.job_id)}/cancel`));
    } catch (e) {
      setError(errorText(e));
    }
  };

  const metric = metricOf(results?.metric ?? job?.metric ?? form.metric);
  const rows = useMemo(() => results?.results ?? [], [results]);
  const varied = useMemo(() => variedParams(rows), [rows]);
  const withOos = rows.some((r) => r.oos_score !== undefined);
  const columns = useMemo(() => resultColumns(metric, varied, withOos), [metric, varied, withOos]);
  const sorted = useMemo(() => {
    const column = columns.find((c) => c.key === sort.key) ?? columns[0];
    return column ? sortRows(rows, column, sort.direction) : rows;
  }, [rows, columns, sort]);
  const selected = rows.find((r) => r.rank === selectedRank) ?? null;
  const detail = useRowBacktest(results && job ? job.job_id : null, selectedRank);
  const detailTimes = detail.state === "done" ? detail.detail.time : null;

  return (
    <section aria-label="Optimisation" className="optimize">
      <div className="opt-side">
        <div className="panel form-panel">
          <h2>Optimisation job</h2>
          <JobForm form={form} onChange={setForm} strategies={strategies} dataFiles={dataFiles}
                   running={running} busy={submitting} onRun={() => void run()} onCancel={() => void cancel()}>
            <JobProgress job={job} uploading={uploading} label="Optimisation progress" onCancelUpload={cancelUpload} />
            <ErrorLine text={error} />
          </JobForm>
        </div>
        <JobsList jobs={jobs} current={job?.job_id ?? null} onOpen={(j) => openJob(j)}
                  onRefresh={() => void loadJobs()} />
      </div>

      <section className="opt-results" aria-label="Results">
        <div className="panel ranked-panel">
          <h2>
            Results
            <span className="count" title={summary(job, results)}>{summary(job, results)}</span>
            <span className="spacer" />
            <button type="button" className="primary" disabled={!selected || !results}
                    onClick={() => setApplying(true)}>Apply to live</button>
          </h2>
          <VirtualTable label="Ranked results" columns={columns} rows={sorted}
                        rowKey={(r: ResultRow) => r.rank} rowAttributes={(r) => ({ "data-rank": r.rank })}
                        selected={selectedRank} onSelect={(r) => setSelectedRank(r.rank)}
                        sort={sort} onSort={setSort}
                        empty={running ? "Running…" : job?.status === "error" ? "The job failed." : "No results yet: run a job."} />
          {results?.walk_forward?.length ? (
            <WalkForward folds={results.walk_forward} metric={metric} varied={varied} />
          ) : null}
        </div>
        <HeatmapView results={rows} varied={varied} metric={metric} sampled={sampled}
                     selectedRank={selectedRank} onSelect={setSelectedRank} />
        <RowDetail detail={detail} />
      </section>

      {applying && selected && results && job && (
        <ApplyDialog strategy={results.strategy} params={selected.params} rank={selected.rank}
                     defaultCoin={coinFromFile(job.data)}
                     defaultTimeframe={detailTimes ? barTimeframe(barInterval(detailTimes))
                       : timeframeFromFile(job.data) ?? "tick"}
                     onClose={() => setApplying(false)} />
      )}
    </section>
  );
}

function summary(job: Job | null, results: Results | null): string {
  if (!job) return "";
  const head = `${job.job_id} · ${job.strategy} · ${job.data}`;
  if (!results) return `${head} · ${job.status}`;
  const done = results.completed < results.combinations
    ? `${count(results.completed)} of ${count(results.combinations)}` : count(results.completed);
  const shown = results.results.length < results.completed ? `, best ${count(results.results.length)} shown` : "";
  return `${head} · ${done} ranked by ${metricOf(results.metric).title}${results.cancelled ? " (cancelled)" : ""}${shown}`;
}

/** The API's refusal as it is, scrolled into view in the form's column. */
function ErrorLine({ text }: { text: string }) {
  const line = useRef<HTMLParagraphElement>(null);
  // braces: an effect returns its cleanup, and Chromium's scrollIntoView now returns a promise,
  // which React then called as one when the text changed (the page went blank)
  useEffect(() => {
    line.current?.scrollIntoView({ block: "nearest" });
  }, [text]);
  return text ? <p role="alert" className="error-text alert" ref={line}>{text}</p> : null;
}

function JobsList({ jobs, current, onOpen, onRefresh }: {
  jobs: Job[]; current: string | null; onOpen: (job: Job) => void; onRefresh: () => void;
}) {
  return (
    <section className="panel jobs-panel" aria-label="Jobs">
      <h2>
        Jobs
        <span className="spacer" />
        <button type="button" className="small" onClick={onRefresh}>Refresh</button>
      </h2>
      <div className="jobs-scroll">
        {!jobs.length ? <p className="muted empty">No jobs on this server yet.</p> : (
          <table className="grid">
            <thead>
              <tr><th scope="col">Job</th><th scope="col">Strategy</th><th scope="col">Status</th><th scope="col" className="num">Done</th></tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.job_id} className={j.job_id === current ? "selected" : undefined}
                    title={`${j.data}, started ${utc(j.created, false)} UTC`}>
                  <td>
                    <button type="button" className="link" aria-label={`Open ${j.job_id}`}
                            aria-current={j.job_id === current ? "true" : undefined}
                            onClick={() => { if (j.job_id !== current) onOpen(j); }}>{j.job_id}</button>
                  </td>
                  <td>{j.strategy}</td>
                  <td className={j.status === "error" ? "loss" : undefined}>{j.status}</td>
                  <td className="num">{count(j.done)}/{count(j.total)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}

/** The folds of a walk-forward search, under the ranking. */
function WalkForward({ folds, metric, varied }: { folds: Fold[]; metric: Metric; varied: string[] }) {
  return (
    <div className="walk-forward" role="region" aria-label="Walk-forward">
      <p className="note">{walkForwardSummary(folds, metric)}</p>
      <table className="grid" aria-label="Walk-forward folds">
        <thead>
          <tr><th className="num">Fold</th><th title="the bars the fold ranked the grid on">Ranked on</th>
            <th title="the bars its best parameters were then scored on">Scored on</th><th>Best</th>
            <th className="num">{metric.title} IS</th><th className="num">{metric.title} OOS</th></tr>
        </thead>
        <tbody>
          {folds.map((f) => (
            <tr key={f.fold} data-fold={f.fold}>
              <td className="num">{f.fold}</td><td>{barsText(f.in_sample_bars)}</td><td>{barsText(f.out_of_sample_bars)}</td>
              <td>{foldParams(f, varied)}</td>
              <td className="num">{scoreText(metric, f.in_sample_score)}</td>
              <td className="num">{scoreText(metric, f.out_of_sample_score)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
