// The copilot's settings: the built-in daily-loss guard (pause every strategy, and by default
// close every open position, when the day's loss passes an amount or a percentage), the webhooks alerts go to (each with its format and
// the least severity it takes, a Telegram one with its chat, and a Test button that sends it a test message as written), the heartbeat
// that tells an outside endpoint the app is alive; and the webhook deliveries with their status.
import { useEffect, useId, useState } from "react";
import { api } from "../lib/api";
import { utc } from "../lib/format";
import { useAction } from "../lib/useAction";
import { SEVERITIES, type Settings, type Webhook, type WebhookTest } from "./types";

interface Delivery {
  id: number;
  alert_id: number;
  channel: string;
  target: string;
  format: string;
  status: string;
  attempts: number;
  last_error: string | null;
  created: number;
  sent: number | null;
}

const FORMATS: Webhook["format"][] = ["json", "discord", "slack", "telegram"];

/** A number field's text as the settings take it: empty is null. */
function numberOrNull(text: string): number | null {
  return text.trim() === "" ? null : Number(text);
}

const textOf = (value: number | null | undefined) => value === null || value === undefined ? "" : String(value);

/** A webhook as the API takes it: the URL trimmed, the chat id only for Telegram. */
export function webhookBody(hook: Webhook): Webhook {
  const { chat_id: chat, ...rest } = hook;
  const body: Webhook = { ...rest, url: hook.url.trim() };
  if (hook.format === "telegram") body.chat_id = (chat ?? "").trim();
  return body;
}

/** What a test message came to, in a line. */
export function testOutcome(result: WebhookTest): string {
  return result.delivered
    ? `Test message delivered to ${result.url} (${result.format}, ${Math.round(result.elapsed_ms)} ms).`
    : `Test message not delivered to ${result.url}: ${result.error ?? "no answer"}`;
}

export function SettingsPanel() {
  const id = useId();
  const [settings, setSettings] = useState<Settings | null>(null);
  const [loss, setLoss] = useState({ enabled: false, amount: "", percent: "", close: true });
  const [webhooks, setWebhooks] = useState<Webhook[]>([]);
  const [heartbeat, setHeartbeat] = useState({ url: "", interval: "60" });
  const [deliveries, setDeliveries] = useState<Delivery[]>([]);
  const [saved, setSaved] = useState("");
  const { busy, error, run } = useAction();
  const [tested, setTested] = useState<{ index: number; ok: boolean; text: string } | null>(null);
  const [testing, setTesting] = useState<number | null>(null);

  const show = (next: Settings) => {
    setSettings(next);
    setLoss({
      enabled: next.daily_loss.enabled, amount: textOf(next.daily_loss.amount), percent: textOf(next.daily_loss.percent),
      close: next.daily_loss.close_positions ?? true,
    });
    setWebhooks(next.webhooks.map((w) => ({ ...w })));
    setHeartbeat({ url: next.heartbeat.url ?? "", interval: textOf(next.heartbeat.interval_s) });
  };

  const loadDeliveries = () => {
    api.get<Delivery[]>("/api/copilot/deliveries", { limit: 50 }).then(setDeliveries, () => undefined);
  };

  useEffect(() => {
    void run(async () => show(await api.get<Settings>("/api/copilot/settings")));
    loadDeliveries();
  }, [run]);

  const save = () => run(async () => {
    setSaved("");
    const body: Settings = {
      ...settings!,
      daily_loss: {
        enabled: loss.enabled, amount: numberOrNull(loss.amount), percent: numberOrNull(loss.percent),
        close_positions: loss.close,
      },
      webhooks: webhooks.map(webhookBody),
      heartbeat: { url: heartbeat.url.trim() || null, interval_s: Number(heartbeat.interval) },
    };
    show(await api.put<Settings>("/api/copilot/settings", body));
    setSaved("Settings saved");
    loadDeliveries();
  });

  const setHook = (index: number, patch: Partial<Webhook>) =>
    setWebhooks((hooks) => hooks.map((w, i) => (i === index ? { ...w, ...patch } : w)));

  // a test message to one webhook as it is written here, saved or not (a dead endpoint takes seconds)
  const sendTest = async (index: number) => {
    setTesting(index);
    setTested(null);
    try {
      const result = await api.post<WebhookTest>("/api/copilot/webhooks/test", webhookBody(webhooks[index]));
      setTested({ index, ok: result.delivered, text: testOutcome(result) });
    } catch (e) {
      setTested({ index, ok: false, text: `No test message sent: ${e instanceof Error ? e.message : String(e)}` });
    } finally {
      setTesting(null);
    }
  };

  return (
    <div className="settings">
      <section role="region" aria-label="Settings" className="panel">
        <h2 className="panel-title">Settings</h2>
        <form className="settings-form" aria-label="Copilot settings"
              onSubmit={(e) => { e.preventDefault(); void save(); }}>
          <fieldset disabled={!settings}>
            <legend>Daily-loss guard</legend>
            <div className="field field-check">
              <input id={`${id}-loss-on`} type="checkbox" checked={loss.enabled}
                     onChange={(e) => setLoss({ ...loss, enabled: e.target.checked })} />
              <label htmlFor={`${id}-loss-on`}>Pause every strategy when the day's loss passes the limit</label>
            </div>
            <div className="field field-check">
              <input id={`${id}-loss-close`} type="checkbox" checked={loss.close} aria-describedby={`${id}-loss-close-doc`}
                     onChange={(e) => setLoss({ ...loss, close: e.target.checked })} />
              <label htmlFor={`${id}-loss-close`}>Close every position too</label>
              <small id={`${id}-loss-close-doc`} className="muted field-doc">
                at the market, with recorded fills; unticked, the positions stay open and go on losing
              </small>
            </div>
            <div className="settings-row">
              <div className="field">
                <label htmlFor={`${id}-loss-amount`}>Loss amount</label>
                <input id={`${id}-loss-amount`} type="number" min={0} step="any" value={loss.amount}
                       onChange={(e) => setLoss({ ...loss, amount: e.target.value })} />
              </div>
              <div className="field">
                <label htmlFor={`${id}-loss-percent`}>or loss %</label>
                <input id={`${id}-loss-percent`} type="number" min={0} max={100} step="any" value={loss.percent}
                       onChange={(e) => setLoss({ ...loss, percent: e.target.value })} />
              </div>
            </div>
            <small className="muted field-doc">
              the % is of the day's opening value; the amount wins when both are given
            </small>
          </fieldset>
          <fieldset disabled={!settings}>
            <legend>Webhooks</legend>
            {webhooks.map((hook, index) => (
              <div key={index} className="webhook-row" role="group" aria-label={`Webhook ${index + 1}`}>
                <input type="checkbox" checked={hook.enabled} aria-label={`Webhook ${index + 1} enabled`}
                       onChange={(e) => setHook(index, { enabled: e.target.checked })} />
                <input className="url" type="url" value={hook.url} placeholder="https://…" aria-label={`Webhook ${index + 1} URL`}
                       onChange={(e) => setHook(index, { url: e.target.value })} />
                <select value={hook.format} aria-label={`Webhook ${index + 1} format`}
                        onChange={(e) => setHook(index, { format: e.target.value as Webhook["format"] })}>
                  {FORMATS.map((f) => <option key={f} value={f}>{f}</option>)}
                </select>
                <select value={hook.min_severity} aria-label={`Webhook ${index + 1} least severity`}
                        onChange={(e) => setHook(index, { min_severity: e.target.value as Webhook["min_severity"] })}>
                  {SEVERITIES.map((s) => <option key={s} value={s}>{s} and up</option>)}
                </select>
                {hook.format === "telegram" && (
                  <input className="chat" value={hook.chat_id ?? ""} placeholder="chat id"
                         aria-label={`Webhook ${index + 1} Telegram chat id`}
                         title="the chat the bot posts to; the URL is the bot's https://api.telegram.org/bot<token>/sendMessage"
                         onChange={(e) => setHook(index, { chat_id: e.target.value })} />
                )}
                <button type="button" className="small" aria-label={`Send webhook ${index + 1} a test message`}
                        title="Send a test message now, as written here (saved or not)"
                        disabled={testing !== null || !hook.url.trim()} onClick={() => void sendTest(index)}>
                  {testing === index ? "Sending…" : "Test"}
                </button>
                <button type="button" className="small danger" aria-label={`Remove webhook ${index + 1}`}
                        onClick={() => { setTested(null); setWebhooks((hooks) => hooks.filter((_, i) => i !== index)); }}>✕</button>
              </div>
            ))}
            {tested && (
              <p role={tested.ok ? "status" : "alert"} aria-label="Webhook test"
                 className={tested.ok ? "gain webhook-test" : "error-text webhook-test"}>
                Webhook {tested.index + 1}: {tested.text}
              </p>
            )}
            <button type="button" className="small" onClick={() => setWebhooks((hooks) => [
              ...hooks, { url: "", format: "json", min_severity: "warning", enabled: true }])}>Add webhook</button>
          </fieldset>
          <fieldset disabled={!settings}>
            <legend>Heartbeat</legend>
            <div className="settings-row">
              <div className="field grow">
                <label htmlFor={`${id}-hb-url`}>Heartbeat URL</label>
                <input id={`${id}-hb-url`} type="url" value={heartbeat.url} placeholder="empty: no heartbeat"
                       onChange={(e) => setHeartbeat({ ...heartbeat, url: e.target.value })} />
              </div>
              <div className="field">
                <label htmlFor={`${id}-hb-interval`}>Every (s)</label>
                <input id={`${id}-hb-interval`} type="number" min={1} step="any" value={heartbeat.interval}
                       onChange={(e) => setHeartbeat({ ...heartbeat, interval: e.target.value })} />
              </div>
            </div>
          </fieldset>
          {error && <p role="alert" className="error-text">{error}</p>}
          {saved && !error && <p role="status" className="gain">{saved}</p>}
          <div><button type="submit" className="primary" disabled={busy || !settings}>Save settings</button></div>
        </form>
      </section>
      <section role="region" aria-label="Deliveries" className="panel">
        <h2 className="panel-title">
          Deliveries <span className="muted count-badge">{deliveries.length}</span>
          <span className="spacer" />
          <button type="button" className="small" onClick={loadDeliveries}>Refresh</button>
        </h2>
        <div className="scroll">
          <table className="grid history-table">
            <thead><tr><th className="num">#</th><th>Created (UTC)</th><th>Alert</th><th>Channel</th><th>Target</th>
              <th>Status</th><th className="num">Attempts</th><th>Last error</th></tr></thead>
            <tbody>
              {deliveries.map((d) => (
                <tr key={d.id}>
                  <td className="num muted">{d.id}</td><td>{utc(d.created, false)}</td><td>#{d.alert_id}</td>
                  <td>{d.channel} {d.format}</td><td className="ellipsis" title={d.target}>{d.target}</td>
                  <td className={d.status === "sent" ? "gain" : d.status === "failed" ? "loss" : "warn"}>{d.status}</td>
                  <td className="num">{d.attempts}</td>
                  <td className="ellipsis" title={d.last_error ?? undefined}>{d.last_error ?? ""}</td>
                </tr>
              ))}
              {!deliveries.length && <tr><td colSpan={8} className="muted empty">No delivery yet: add a webhook.</td></tr>}
            </tbody>
          </table>
        </div>
      </section>
    </div>
  );
}
