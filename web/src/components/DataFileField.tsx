// The bar file a job reads: one of the server's (the bundled samples, the history folder,
// earlier uploads, from /api/optimization/data-files) or a file of the trader's, uploaded with
// the job. The optimisation and trend forms both ask it this way.
import { useId, useMemo } from "react";
import { amount } from "../lib/format";
import "./DataFileField.css";

/** A bar file on the server (GET /api/optimization/data-files). */
export interface DataFile {
  name: string;
  size: number;
  folder: string;
}

function folderKind(file: DataFile): string {
  const folder = file.folder.replace(/[\\/]+$/, "");
  if (/[\\/]uploads$/.test(folder)) return "Uploads";
  if (/[\\/]resources[\\/]data$/.test(folder) || /sample/i.test(file.name)) return "Samples";
  return "History";
}

export function sizeText(bytes: number): string {
  if (bytes >= 1e6) return `${amount(bytes / 1e6, 1)} MB`;
  if (bytes >= 1e3) return `${amount(bytes / 1e3, 0)} kB`;
  return `${bytes} B`;
}

interface Props {
  dataFiles: DataFile[];
  dataFile: string;
  upload: File | null;
  disabled: boolean;
  onDataFile: (name: string) => void;
  onUpload: (file: File | null) => void;
}

export function DataFileField({ dataFiles, dataFile, upload, disabled, onDataFile, onUpload }: Props) {
  const id = useId();
  const groups = useMemo(() => {
    const byKind = new Map<string, DataFile[]>();
    for (const file of dataFiles) {
      const kind = folderKind(file);
      byKind.set(kind, [...(byKind.get(kind) ?? []), file]);
    }
    const uploads = byKind.get("Uploads");
    if (uploads) uploads.sort((a, b) => b.name.localeCompare(a.name)); // newest first
    return ["Samples", "History", "Uploads"].filter((k) => byKind.has(k)).map((k) => [k, byKind.get(k)!] as const);
  }, [dataFiles]);

  return (
    <>
      <div className="field">
        <label htmlFor={`${id}-file`}>Data file</label>
        <select id={`${id}-file`} value={dataFile} disabled={disabled || upload !== null}
                onChange={(e) => onDataFile(e.target.value)}>
          {!dataFiles.length && <option value="">(no bar files on the server)</option>}
          {groups.map(([kind, files]) => (
            <optgroup key={kind} label={kind}>
              {files.map((f) => <option key={`${f.folder}/${f.name}`} value={f.name}>{f.name} · {sizeText(f.size)}</option>)}
            </optgroup>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-upload`}>Upload a bar file</label>
        <div className="upload-row">
          <input id={`${id}-upload`} type="file" accept=".csv,.gz,.zip,text/csv" disabled={disabled}
                 aria-describedby={`${id}-upload-note`}
                 onChange={(e) => onUpload(e.target.files?.[0] ?? null)}
                 key={upload ? "chosen" : "empty"} />
          {upload && (
            <button type="button" onClick={() => onUpload(null)} disabled={disabled}
                    aria-label="Use a server file instead of the upload">Clear</button>
          )}
        </div>
        <span id={`${id}-upload-note`} className={upload ? "note" : "sr-only"}>
          {upload
            ? `${upload.name} (${sizeText(upload.size)}) is sent with the job and kept 24 hours`
            : "a bar file (timestamp,open,high,low,close,volume), up to 200 MB, kept 24 hours"}
        </span>
      </div>
    </>
  );
}
