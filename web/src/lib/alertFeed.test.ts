import { describe, expect, it } from "vitest";
import type { Action, Alert, Rule } from "../copilot/types";
import { AlertFeed, mergeActions, mergeAlerts } from "./alertFeed";
import type { SocketLike, StreamDeps } from "./stream";

function alert(id: number, extra: Partial<Alert> = {}): Alert {
  return {
    id, rule_id: "btc-70k", rule_name: "BTC above 70k", time: 1_765_000_000 + id, tick_time: null,
    coin: "BTC", strategy_id: null, severity: "warning", message: `alert ${id}`, price: 70_000 + id,
    value: 70_000 + id, threshold: 70_000, acknowledged: false, action_id: null, throttled: false, ...extra,
  };
}

function action(id: number, status: Action["status"] = "pending"): Action {
  return {
    id, alert_id: id, rule_id: "dd", type: "pause_strategy", params: { strategy_id: "BTC_SMA" },
    reason: "drawdown", status, auto: false, created: 1_765_000_000, decided: null, decided_by: null, result: null,
  };
}

class FakeSocket implements SocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(frame: unknown) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop() {
    this.onclose?.({ code: 1006, reason: "" });
  }
  close() {
    this.onclose?.({ code: 1000, reason: "closed" });
  }
}

/** A feed over a server holding `journal` alerts and `pending` actions, with fake time. */
function world(journal: Alert[], pending: Action[] = [], fetchRules?: () => Promise<Rule[]>) {
  const sockets: FakeSocket[] = [];
  const timers = new Map<number, { at: number; callback: () => void }>();
  let time = 0;
  let next = 1;
  const deps: StreamDeps = {
    connect: (url) => {
      const socket = new FakeSocket(url);
      sockets.push(socket);
      return socket;
    },
    setTimeout: (callback, ms) => {
      timers.set(next, { at: time + ms, callback });
      return next++;
    },
    clearTimeout: (handle) => void timers.delete(handle as number),
    now: () => time,
    random: () => 0.5,
    schedule: (callback) => callback(),
  };
  const advance = (ms: number) => {
    const end = time + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      time = due[1].at;
      due[1].callback();
    }
    time = end;
  };
  const server = { journal, pending };
  const feed = new AlertFeed({
    deps,
    url: (afterId) => `ws://test/ws/alerts?after_id=${afterId}`,
    fetchAlerts: async (limit) => [...server.journal].sort((a, b) => b.id - a.id).slice(0, limit),
    fetchPending: async () => server.pending,
    fetchRules,
  });
  return { feed, sockets, advance, server, socket: () => sockets[sockets.length - 1] };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("mergeAlerts", () => {
  it("keeps one alert per id, newest first, and at most the number kept", () => {
    const merged = mergeAlerts([alert(3), alert(1)], [alert(2), alert(3), alert(4)], 3);
    expect(merged.map((a) => a.id)).toEqual([4, 3, 2]);
  });

  it("keeps an acknowledged alert acknowledged when a replay brings the unacknowledged copy", () => {
    const merged = mergeAlerts([alert(5, { acknowledged: true })], [alert(5)]);
    expect(merged).toHaveLength(1);
    expect(merged[0].acknowledged).toBe(true);
  });

  it("takes the acknowledged copy from an acknowledge's reply", () => {
    expect(mergeAlerts([alert(5)], [alert(5, { acknowledged: true })])[0].acknowledged).toBe(true);
  });
});

describe("mergeActions", () => {
  it("replaces an action by its later status and never returns a decided one to pending", () => {
    let actions = mergeActions([], [action(1), action(2)]);
    actions = mergeActions(actions, [action(1, "executed")]);
    actions = mergeActions(actions, [action(1, "pending")]);
    expect(actions.map((a) => [a.id, a.status])).toEqual([[2, "pending"], [1, "executed"]]);
  });
});

describe("AlertFeed", () => {
  it("reads the newest alerts, then opens the socket after the newest of them", async () => {
    const w = world([alert(1), alert(2)], [action(7)]);
    await w.feed.start();
    expect(w.socket().url).toBe("ws://test/ws/alerts?after_id=2");
    expect(w.feed.get().alerts.map((a) => a.id)).toEqual([2, 1]);
    expect(w.feed.get().actions.map((a) => a.id)).toEqual([7]);
  });

  it("resumes after the last alert seen and shows a replayed alert once", async () => {
    const w = world([alert(1)]);
    await w.feed.start();
    w.socket().onopen?.({});
    w.socket().send({ type: "alert", data: alert(2) });
    w.socket().send({ type: "alert", data: alert(3) });
    w.socket().drop();
    expect(w.feed.get().connection.kind).toBe("reconnecting");
    w.advance(10_000);
    expect(w.socket().url).toBe("ws://test/ws/alerts?after_id=3");
    w.socket().onopen?.({});
    expect(w.feed.get().connection).toEqual({ kind: "live", resumedAfter: 3 });
    // a server that replays one too many: still once
    w.socket().send({ type: "alert", data: alert(3) });
    w.socket().send({ type: "alert", data: alert(4) });
    expect(w.feed.get().alerts.map((a) => a.id)).toEqual([4, 3, 2, 1]);
    expect(w.feed.stats).toMatchObject({ received: 4, duplicates: 1, lastId: 4, resumes: 1 });
  });

  it("retries with the backoff after a drop: 0.5 s, then 1 s", async () => {
    const w = world([]);
    await w.feed.start();
    expect(w.socket().url).toBe("ws://test/ws/alerts?after_id=0");
    w.socket().drop();
    w.advance(499);
    expect(w.sockets).toHaveLength(1);
    w.advance(1);
    expect(w.sockets).toHaveLength(2);
    w.socket().drop();
    w.advance(999);
    expect(w.sockets).toHaveLength(2);
    w.advance(1);
    expect(w.sockets).toHaveLength(3);
  });

  it("counts alerts that arrive while the page is not watched as unread, and clears them when it is", async () => {
    const w = world([alert(1)]);
    await w.feed.start();
    w.socket().onopen?.({});
    expect(w.feed.get().unread).toBe(0); // the first read is not news
    w.socket().send({ type: "alert", data: alert(2) });
    w.socket().send({ type: "alert", data: alert(2) });
    expect(w.feed.get().unread).toBe(1);
    w.feed.setWatching(true);
    expect(w.feed.get().unread).toBe(0);
    w.socket().send({ type: "alert", data: alert(3) });
    expect(w.feed.get().unread).toBe(0);
  });

  it("follows action frames and reads the pending actions again after a reconnect", async () => {
    const w = world([], [action(1), action(2)]);
    await w.feed.start();
    w.socket().onopen?.({});
    w.socket().send({ type: "action", data: action(3) });
    w.socket().send({ type: "action", data: action(1, "executed") });
    expect(w.feed.get().actions.map((a) => [a.id, a.status])).toEqual(
      [[3, "pending"], [2, "pending"], [1, "executed"]]);
    // action 2 was rejected elsewhere while the socket was down
    w.server.pending = [action(3)];
    w.socket().drop();
    w.advance(10_000);
    w.socket().onopen?.({});
    await settle();
    expect(w.feed.get().actions.filter((a) => a.status === "pending").map((a) => a.id)).toEqual([3]);
  });

  it("reads the rules each time the socket opens, so a change made before it listened shows", async () => {
    const rules = [[{ id: "a" }], [{ id: "a" }, { id: "b" }]];
    let reads = 0;
    const w = world([], [], async () => rules[Math.min(reads++, 1)] as unknown as Rule[]);
    await w.feed.start();
    expect(w.feed.get().rules).toBeNull();  // not before the socket listens
    w.socket().onopen?.({});
    await settle();
    expect(w.feed.get().rules).toEqual([{ id: "a" }]);
    w.socket().drop();
    w.advance(10_000);
    w.socket().onopen?.({});
    await settle();
    expect(w.feed.get().rules).toEqual([{ id: "a" }, { id: "b" }]);
  });

  it("drops a read of the rules that a rules frame overtook", async () => {
    let answer: (rules: Rule[]) => void = () => undefined;
    const w = world([], [], () => new Promise<Rule[]>((resolve) => { answer = resolve; }));
    await w.feed.start();
    w.socket().onopen?.({});
    w.socket().send({ type: "rules", data: { rules: [{ id: "new" }] } });
    answer([{ id: "old" }] as unknown as Rule[]);  // read before the change, answered after it
    await settle();
    expect(w.feed.get().rules).toEqual([{ id: "new" }]);
  });

  it("keeps the rules of the newest rules frame, and ignores one without a list", async () => {
    const w = world([]);
    await w.feed.start();
    expect(w.feed.get().rules).toBeNull();
    const rule = { id: "btc-70k", name: "BTC above 70k" };
    w.socket().send({ type: "rules", data: { rules: [rule] } });
    expect(w.feed.get().rules).toEqual([rule]);
    w.socket().send({ type: "rules", data: { rules: "not a list" } });
    w.socket().send({ type: "rules" });
    expect(w.feed.get().rules).toEqual([rule]);
    w.socket().send({ type: "rules", data: { rules: [] } });
    expect(w.feed.get().rules).toEqual([]);
  });

  it("marks a listed alert seen when it is acknowledged elsewhere, and lists no other", async () => {
    const w = world([alert(1), alert(2)]);
    await w.feed.start();
    w.socket().send({ type: "acknowledged", data: alert(1, { acknowledged: true }) });
    expect(w.feed.get().alerts.map((a) => [a.id, a.acknowledged])).toEqual([[2, false], [1, true]]);
    w.socket().send({ type: "acknowledged", data: alert(99, { acknowledged: true }) });
    expect(w.feed.get().alerts.map((a) => a.id)).toEqual([2, 1]);  // not one of the live list
    expect(w.feed.stats.received).toBe(0);  // not counted as alerts received
  });

  it("ignores frames that are not JSON or carry no id", async () => {
    const w = world([]);
    await w.feed.start();
    w.socket().onmessage?.({ data: "not json" });
    w.socket().send({ type: "alert", data: { message: "no id" } });
    w.socket().send({ type: "ping" });
    expect(w.feed.get().alerts).toEqual([]);
  });
});
