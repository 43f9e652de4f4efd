// The copilot's alerts and actions as the page follows them: the newest alerts and the pending
// actions read once over REST, then /ws/alerts kept open (reconnecting with the live page's
// backoff and resuming with ?after_id= the newest alert seen), each alert shown once however
// often a reconnect replays it. Opened once by the shell, so alerts that arrive while another
// page is open count as unread on the Copilot link. A "rules" frame (the rules changed in some
// view) is kept as `rules`, for the copilot page to show; an "acknowledged" frame marks a listed
// alert seen.
//
// Sockets, timers and REST reads are injected (lib/stream.ts's StreamDeps): the unit tests
// drive a feed without a server, real time or sleeps.
import type { Action, Alert, Rule } from "../copilot/types";
import { ReconnectingSocket, RESUMED_SHOWN_MS, type ConnectionState, type StreamDeps } from "./stream";

/** Alerts kept in memory; older ones are paged from /api/copilot/alerts in History. */
export const ALERTS_KEPT = 500;
/** Alerts read when the feed starts. */
export const INITIAL_ALERTS = 100;

/** `incoming` merged into `alerts` (newest first): one entry per id, newest id first, at most
 * `kept`. An alert seen again (a replay after a reconnect, an acknowledge's reply) replaces
 * the one held, except that an acknowledged alert stays acknowledged. */
export function mergeAlerts(alerts: readonly Alert[], incoming: readonly Alert[],
                            kept = ALERTS_KEPT): Alert[] {
  if (!incoming.length) return alerts as Alert[];
  const byId = new Map<number, Alert>();
  for (const alert of alerts) byId.set(alert.id, alert);
  for (const alert of incoming) {
    const held = byId.get(alert.id);
    byId.set(alert.id, held?.acknowledged && !alert.acknowledged ? { ...alert, acknowledged: true } : alert);
  }
  return [...byId.values()].sort((a, b) => b.id - a.id).slice(0, kept);
}

/** `incoming` merged into `actions` by id (a later status replaces an earlier one; a decided
 * action never goes back to pending), newest first. */
export function mergeActions(actions: readonly Action[], incoming: readonly Action[]): Action[] {
  if (!incoming.length) return actions as Action[];
  const byId = new Map<number, Action>();
  for (const action of actions) byId.set(action.id, action);
  for (const action of incoming) {
    const held = byId.get(action.id);
    if (held && held.status !== "pending" && action.status === "pending") continue;
    byId.set(action.id, action);
  }
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

export interface AlertFeedState {
  alerts: readonly Alert[];
  actions: readonly Action[];
  connection: ConnectionState;
  /** Alerts that arrived live while the copilot page was not shown. */
  unread: number;
  /** The first read failed (the server has no copilot, or refused): its message. */
  error: string;
  /** Every rule, as the last "rules" frame gave them (null until one came). */
  rules: readonly Rule[] | null;
}

/** The counters the end-to-end tests read on window.__velocitas.alerts. */
export interface AlertStats {
  received: number;
  duplicates: number;
  lastId: number | null;
  resumes: number;
}

export interface AlertFeedOptions {
  deps: StreamDeps;
  /** The socket's address resuming after `afterId` (socketUrl("/ws/alerts", …) in the page). */
  url: (afterId: number) => string;
  /** GET /api/copilot/alerts?limit=N: the newest first. */
  fetchAlerts: (limit: number) => Promise<Alert[]>;
  /** GET /api/copilot/actions?status=pending. */
  fetchPending: () => Promise<Action[]>;
  /** GET /api/copilot/rules: read each time the socket opens, so a change made before it
   * listened (or while it was down) is not missed. */
  fetchRules?: () => Promise<Rule[]>;
}

export class AlertFeed {
  readonly stats: AlertStats = { received: 0, duplicates: 0, lastId: null, resumes: 0 };
  private state: AlertFeedState = {
    alerts: [], actions: [], connection: { kind: "connecting" }, unread: 0, error: "", rules: null,
  };
  private readonly listeners = new Set<() => void>();
  private readonly socket: ReconnectingSocket;
  private watching = false;
  private stopped = true;
  private runs = 0;
  private resumedTimer: unknown = null;
  private rulesFrames = 0;

  constructor(private readonly options: AlertFeedOptions) {
    this.socket = new ReconnectingSocket(options.deps, () => options.url(this.stats.lastId ?? 0), {
      message: (text) => this.onFrame(text),
      open: (reopened) => this.onOpen(reopened),
      state: (connection) => {
        if (connection.kind !== "live") this.update({ connection });
      },
    });
  }

  get = (): AlertFeedState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Reads the newest alerts and the pending actions, then follows the socket. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const run = ++this.runs;
    for (let attempt = 0; run === this.runs && !this.stopped; attempt++) {
      try {
        const [alerts, pending] = await Promise.all([
          this.options.fetchAlerts(INITIAL_ALERTS), this.options.fetchPending()]);
        if (run !== this.runs || this.stopped) return;
        this.take(alerts, false);
        this.update({ actions: mergeActions(this.state.actions, pending), error: "" });
        break;
      } catch (error) {
        const delayMs = Math.min(10_000, 500 * 2 ** attempt);
        this.update({
          error: (error as Error).message,
          connection: { kind: "reconnecting", delayMs, at: this.options.deps.now() + delayMs,
                        reason: (error as Error).message },
        });
        await new Promise<void>((resolve) => this.options.deps.setTimeout(resolve, delayMs));
      }
    }
    if (run !== this.runs || this.stopped) return;
    this.socket.start();
  }

  stop(): void {
    this.stopped = true;
    this.runs++;
    this.socket.stop();
    if (this.resumedTimer !== null) this.options.deps.clearTimeout(this.resumedTimer);
  }

  /** The copilot page is shown (its alerts are read as they come) or not. */
  setWatching(watching: boolean): void {
    this.watching = watching;
    if (watching && this.state.unread) this.update({ unread: 0 });
  }

  /** An alert or an action the page changed (an acknowledge's or a decision's reply). */
  replaceAlert(alert: Alert): void {
    this.update({ alerts: mergeAlerts(this.state.alerts, [alert]) });
  }

  /** An alert acknowledged in another view (or this one): marked seen if it is listed. */
  private acknowledgedElsewhere(alert: Alert): void {
    if (this.state.alerts.some((a) => a.id === alert.id && !a.acknowledged)) this.replaceAlert(alert);
  }

  replaceAction(action: Action): void {
    this.update({ actions: mergeActions(this.state.actions, [action]) });
  }

  private update(patch: Partial<AlertFeedState>): void {
    this.state = { ...this.state, ...patch };
    for (const listener of this.listeners) listener();
  }

  /** Alerts into the list; `live` ones (from the socket) count as received and maybe unread. */
  private take(alerts: readonly Alert[], live: boolean): void {
    const known = new Set(this.state.alerts.map((a) => a.id));
    let fresh = 0;
    for (const alert of alerts) {
      if (live) this.stats.received += 1;
      if (known.has(alert.id)) {
        if (live) this.stats.duplicates += 1;
      } else {
        fresh += 1;
        known.add(alert.id);
      }
      this.stats.lastId = Math.max(this.stats.lastId ?? 0, alert.id);
    }
    const unread = live && !this.watching ? this.state.unread + fresh : this.state.unread;
    this.update({ alerts: mergeAlerts(this.state.alerts, alerts), unread });
  }

  private onOpen(reopened: boolean): void {
    // the rules as they are now the socket listens: its rules frames carry every change after
    // (a frame that comes while the read is under way is newer than it: the read is dropped)
    const frames = this.rulesFrames;
    this.options.fetchRules?.().then((rules) => {
      if (this.rulesFrames === frames) this.update({ rules });
    }, () => undefined);
    if (!reopened) {
      this.update({ connection: { kind: "live", resumedAfter: null } });
      return;
    }
    // actions decided or made while the socket was down are not replayed: read the pending again
    this.stats.resumes += 1;
    const after = this.stats.lastId ?? 0;
    this.update({ connection: { kind: "live", resumedAfter: after } });
    this.options.fetchPending().then((pending) => {
      const open = new Set(pending.map((a) => a.id));
      // an action held as pending that is no longer pending was decided meanwhile: drop it
      // from the pending list until its new status arrives (History reads it from the server)
      const actions = this.state.actions.filter((a) => a.status !== "pending" || open.has(a.id));
      this.update({ actions: mergeActions(actions, pending) });
    }, () => undefined);
    if (this.resumedTimer !== null) this.options.deps.clearTimeout(this.resumedTimer);
    this.resumedTimer = this.options.deps.setTimeout(() => {
      this.resumedTimer = null;
      if (this.state.connection.kind === "live") this.update({ connection: { kind: "live", resumedAfter: null } });
    }, RESUMED_SHOWN_MS);
  }

  private onFrame(text: string): void {
    let frame: { type?: string; data?: unknown };
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === "rules") {
      const rules = (frame.data as { rules?: unknown } | undefined)?.rules;
      if (Array.isArray(rules)) {
        this.socket.markHealthy();
        this.rulesFrames += 1;
        this.update({ rules: rules as Rule[] });
      }
      return;
    }
    const data = frame.data as { id?: unknown } | undefined;
    if (!data || typeof data.id !== "number") return;
    this.socket.markHealthy();
    if (frame.type === "alert") this.take([data as Alert], true);
    else if (frame.type === "action") this.replaceAction(data as Action);
    else if (frame.type === "acknowledged") this.acknowledgedElsewhere(data as Alert);
  }
}

/** Publishes the feed's counters as window.__velocitas.alerts (kept current), for the tests. */
export function exposeAlertStats(stats: AlertStats, target: object = globalThis): void {
  const holder = target as { __velocitas?: { alerts?: AlertStats } };
  holder.__velocitas = { ...(holder.__velocitas ?? {}), alerts: stats };
}
