// The shell: the token gate, the four pages (Live at /, Optimisation at /optimize, Trend at
// /trend, Copilot at /copilot) and the status bar. The pages talk to the server only through
// lib/api.ts and lib/stream.ts. The copilot's alerts socket is opened here, once, so alerts
// that arrive while another page is open show as a count on the Copilot link.
import { Suspense, lazy, useCallback, useEffect, useState, useSyncExternalStore } from "react";
import { NavBadge } from "./components/NavBadge";
import type { Action, Alert, Rule } from "./copilot/types";
import { AlertFeed, exposeAlertStats } from "./lib/alertFeed";
import { ApiError, UNAUTHORIZED, api, socketUrl } from "./lib/api";
import { browserDeps } from "./lib/stream";
import { getToken, setToken } from "./lib/token";
import type { EngineStatus } from "./lib/types";
import { LivePage } from "./live/LivePage";

// The optimisation page (and its charts) loads when it is first opened: the live page, where
// a trader lands, starts with less script to fetch and parse.
const OptimizePage = lazy(() =>
  import("./optimize/OptimizePage").then((module) => ({ default: module.OptimizePage })));
const TrendPage = lazy(() => import("./trend/TrendPage").then((module) => ({ default: module.TrendPage })));
const CopilotPage = lazy(() => import("./copilot/CopilotPage").then((module) => ({ default: module.CopilotPage })));

export type Page = "live" | "optimize" | "trend" | "copilot";

const PATHS: Record<Page, string> = { live: "/", optimize: "/optimize", trend: "/trend", copilot: "/copilot" };

function pageOf(pathname: string): Page {
  const path = pathname.replace(/\/+$/, "");
  const found = (Object.keys(PATHS) as Page[]).find((page) => page !== "live" && PATHS[page] === path);
  return found ?? "live";
}

function newAlertFeed(): AlertFeed {
  const feed = new AlertFeed({
    deps: browserDeps(),
    url: (afterId) => socketUrl("/ws/alerts", { after_id: afterId }),
    fetchAlerts: (limit) => api.get<Alert[]>("/api/copilot/alerts", { limit }),
    fetchPending: () => api.get<Action[]>("/api/copilot/actions", { status: "pending" }),
    fetchRules: () => api.get<Rule[]>("/api/copilot/rules"),
  });
  exposeAlertStats(feed.stats, window);
  return feed;
}

type Access = { state: "checking" } | { state: "open" } | { state: "locked"; reason: string }
  | { state: "down"; reason: string };

export function App() {
  const [page, setPage] = useState<Page>(() => pageOf(window.location.pathname));
  const [access, setAccess] = useState<Access>({ state: "checking" });
  const [feed] = useState(newAlertFeed);
  const unread = useSyncExternalStore(feed.subscribe, () => feed.get().unread);

  const check = useCallback(async () => {
    try {
      await api.get<EngineStatus>("/api/engine/status");
      setAccess({ state: "open" });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        setAccess({
          state: "locked",
          // the server's own words are for scripts (which header to send): a person needs
          // to know the token is not the server's, and where the right one is
          reason: getToken() ? "The server refused this token: it is not the one this " +
            "server was started with. Copy it again from where velocitas serve printed it " +
            "(or the window's Copy token), or open the link with #token= it printed." : "",
        });
      } else {
        setAccess({ state: "down", reason: (error as Error).message });
      }
    }
  }, []);

  useEffect(() => {
    void check();
    const onUnauthorized = () => setAccess({
      state: "locked",
      reason: "The server refused the token (it may have been restarted with another one).",
    });
    const onPop = () => setPage(pageOf(window.location.pathname));
    window.addEventListener(UNAUTHORIZED, onUnauthorized);
    window.addEventListener("popstate", onPop);
    return () => {
      window.removeEventListener(UNAUTHORIZED, onUnauthorized);
      window.removeEventListener("popstate", onPop);
    };
  }, [check]);

  // the alerts are followed once the server took the token (a refused socket would only retry)
  const open = access.state === "open";
  useEffect(() => {
    if (!open) return undefined;
    void feed.start();
    return () => feed.stop();
  }, [open, feed]);
  useEffect(() => {
    feed.setWatching(page === "copilot");
  }, [page, feed]);

  const navigate = (next: Page) => (event: React.MouseEvent) => {
    event.preventDefault();
    if (next === page) return;
    window.history.pushState(null, "", PATHS[next]);
    setPage(next);
  };

  // While the check runs the page renders and starts its own requests (a round trip sooner
  // on the common open server); a refused token turns it into the gate.
  if (access.state === "down") {
    return (
      <div className="gate" role="alert">
        <h1>Velocitas cannot be reached</h1>
        <p>{access.reason}</p>
        <button type="button" onClick={() => void check()}>Try again</button>
      </div>
    );
  }
  if (access.state === "locked") {
    return <TokenGate reason={access.reason} onToken={(token) => { setToken(token); void check(); }} />;
  }
  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">VELOCITAS</span>
        <nav className="tabs" aria-label="Pages">
          <a href={PATHS.live} aria-current={page === "live" ? "page" : undefined}
             onClick={navigate("live")}>Live</a>
          <a href={PATHS.optimize} aria-current={page === "optimize" ? "page" : undefined}
             onClick={navigate("optimize")}>Optimisation</a>
          <a href={PATHS.trend} aria-current={page === "trend" ? "page" : undefined}
             onClick={navigate("trend")}>Trend</a>
          <a href={PATHS.copilot} aria-current={page === "copilot" ? "page" : undefined}
             onClick={navigate("copilot")}>
            Copilot
            <NavBadge count={unread} what="unread alert" testId="unread-alerts" />
          </a>
        </nav>
        <span className="spacer" />
      </header>
      <main className="main">
        {page === "live" ? <LivePage /> : (
          <Suspense fallback={<p className="muted" role="status">Loading…</p>}>
            {page === "optimize" ? <OptimizePage /> : page === "trend" ? <TrendPage /> : <CopilotPage feed={feed} />}
          </Suspense>
        )}
      </main>
    </div>
  );
}

function TokenGate({ reason, onToken }: { reason: string; onToken: (token: string) => void }) {
  const [value, setValue] = useState("");
  return (
    <div className="gate">
      <h1>Access token</h1>
      <p>
        This Velocitas server asks for its access token. <code>velocitas serve</code> printed it
        when it started (and a link that carries it); the desktop window has a <b>Copy token</b>
        {" "}button in its status bar.
      </p>
      <form onSubmit={(event) => { event.preventDefault(); onToken(value); }}>
        <label htmlFor="token-input">Token</label>
        <input id="token-input" type="password" autoComplete="off" autoFocus value={value}
               aria-invalid={reason ? true : undefined}
               aria-describedby={reason ? "token-error" : undefined}
               onChange={(event) => setValue(event.target.value)} />
        {reason && <p id="token-error" role="alert" className="error-text">{reason}</p>}
        <button type="submit" className="primary" disabled={!value.trim()}>Connect</button>
      </form>
      <p className="muted">The token is kept for this browser tab only.</p>
    </div>
  );
}
