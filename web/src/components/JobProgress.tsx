// A server job's progress as the optimisation and trend pages show it: the upload's share
// sent (with Cancel upload), then the job's done of total (polled by the page), then how it ended.
import { count } from "../lib/format";
import "./JobProgress.css";

/** The fields of a job's reply this reads (optimisation and trend jobs share them). */
export interface JobState {
  job_id: string;
  status: string;
  done: number;
  total: number;
  progress: number;
}

export function JobProgress({ job, uploading, label, onCancelUpload }: {
  job: JobState | null;
  /** The fraction of an upload sent, or null when none is under way. */
  uploading: number | null;
  /** The progress bar's accessible name. */
  label: string;
  /** Stops the upload under way (a Cancel button beside its bar). */
  onCancelUpload?: () => void;
}) {
  if (uploading !== null) {
    const percent = Math.round(uploading * 100);
    return (
      <div className="progress">
        <div role="progressbar" aria-label="Upload" aria-valuemin={0} aria-valuemax={100}
             aria-valuenow={percent} aria-valuetext={`${percent}% uploaded`} className="bar">
          <span style={{ width: `${percent}%` }} />
        </div>
        <span className="progress-text">uploading {percent}%</span>
        {onCancelUpload && (
          <button type="button" className="small danger" onClick={onCancelUpload}>Cancel upload</button>
        )}
      </div>
    );
  }
  if (!job) return null;
  if (job.status !== "running") {
    return (
      <p className="progress-text" data-testid="job-status">
        {job.job_id} {job.status}: {count(job.done)} of {count(job.total)} done
      </p>
    );
  }
  return (
    <div className="progress">
      <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={job.total}
           aria-valuenow={job.done} aria-valuetext={`${count(job.done)} of ${count(job.total)} done`} className="bar">
        <span style={{ width: `${Math.round(job.progress * 100)}%` }} />
      </div>
      <span className="progress-text" data-testid="job-status">
        {count(job.done)} / {count(job.total)} done · {Math.floor(job.progress * 100)}%
      </span>
    </div>
  );
}
