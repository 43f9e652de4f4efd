// The engine's log (GET /api/log, polled) and the page's own lines (resumes, repaired gaps).
import { memo, useLayoutEffect, useRef } from "react";
import { utc } from "../lib/format";
import { useObservable, type LiveHub } from "./hub";

export const LogPanel = memo(function LogPanel({ hub }: { hub: LiveHub }) {
  const lines = useObservable(hub.log);
  const available = useObservable(hub.logAvailable);
  const scroller = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [lines]);
  return (
    <section role="region" aria-label="Log" className="panel log-panel">
      <h2 className="panel-title">Log {!available && <span className="muted note">(the server's log is not served yet: page events only)</span>}</h2>
      <div className="scroll log-lines" ref={scroller} role="log" aria-live="off">
        {lines.map((line) => (
          <div key={line.key} className={`log-line level-${line.level}`}>
            <span className="num muted">{utc(line.time, false)}</span>
            <span className={`level ${line.level}`}>{line.level.toUpperCase()}</span>
            <span className="msg">{line.local ? "page: " : ""}{line.message}</span>
          </div>
        ))}
        {!lines.length && <p className="muted empty">No log lines yet.</p>}
      </div>
    </section>
  );
});
