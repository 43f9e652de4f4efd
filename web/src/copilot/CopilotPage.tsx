// The Copilot page: the rules, the live alerts and the actions waiting for a decision on one
// screen (Monitor); the journal's alerts and actions (History); a rule replayed on a bar file
// (Test on history); the daily-loss guard, webhooks and heartbeat (Settings). The alerts come
// from the shell's feed (/ws/alerts, opened once for every page).
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from "react";
import { api, errorText } from "../lib/api";
import type { AlertFeed } from "../lib/alertFeed";
import type { EngineStatus, Strategy } from "../lib/types";
import { ActionsPanel } from "./ActionsPanel";
import { AlertsPanel } from "./AlertsPanel";
import { HistoryPanel } from "./HistoryPanel";
import { RulesPanel } from "./RulesPanel";
import { SettingsPanel } from "./SettingsPanel";
import { TestPanel } from "./TestPanel";
import type { ConditionType, Rule } from "./types";
import "./copilot.css";

const TABS = [["monitor", "Monitor"], ["history", "History"], ["test", "Test on history"], ["settings", "Settings"]] as const;
type Tab = (typeof TABS)[number][0];
/** A rule's fired count is read again at most this often while alerts arrive. */
const RULES_REFRESH_MS = 1_000;

export function CopilotPage({ feed }: { feed: AlertFeed }) {
  const state = useSyncExternalStore(feed.subscribe, feed.get);
  const [tab, setTab] = useState<Tab>("monitor");
  const [conditions, setConditions] = useState<ConditionType[]>([]);
  const [rules, setRules] = useState<Rule[]>([]);
  const [strategies, setStrategies] = useState<string[]>([]);
  const [coins, setCoins] = useState<string[]>([]);
  const [error, setError] = useState("");
  const refresh = useRef<number | null>(null);

  const loadRules = useCallback(async () => {
    try {
      setRules(await api.get<Rule[]>("/api/copilot/rules"));
      setError("");
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  useEffect(() => {
    api.get<ConditionType[]>("/api/copilot/conditions").then(setConditions, (e) => setError(errorText(e)));
    api.get<Strategy[]>("/api/strategies").then((list) => setStrategies(list.map((s) => s.strategy_id)), () => undefined);
    api.get<EngineStatus>("/api/engine/status").then((s) => setCoins(s.coins), () => undefined);
  }, [loadRules]);

  // the rules read again whenever they are shown (their fired counts), and as they change in
  // any view (the window, the API, this page's settings): the feed's "rules" frames
  useEffect(() => {
    if (tab === "monitor" || tab === "test") void loadRules();
  }, [tab, loadRules]);
  useEffect(() => {
    if (state.rules) setRules([...state.rules]);
  }, [state.rules]);

  // a new alert changes its rule's fired count and last time (or disabled it): read the rules again
  const newest = state.alerts[0]?.id ?? 0;
  useEffect(() => {
    if (!newest || refresh.current !== null) return;
    refresh.current = window.setTimeout(() => {
      refresh.current = null;
      void loadRules();
    }, RULES_REFRESH_MS);
  }, [newest, loadRules]);
  useEffect(() => () => {
    if (refresh.current !== null) window.clearTimeout(refresh.current);
  }, []);

  return (
    <section aria-label="Copilot" className="copilot">
      <div className="copilot-tabs" role="tablist" aria-label="Copilot views">
        {TABS.map(([key, label]) => (
          <button key={key} type="button" role="tab" id={`copilot-tab-${key}`} aria-selected={tab === key}
                  aria-controls={`copilot-view-${key}`} className={`tab ${tab === key ? "on" : ""}`}
                  onClick={() => setTab(key)}>{label}</button>
        ))}
        {error && <p role="alert" className="error-text page-error">{error}</p>}
      </div>
      <div role="tabpanel" id={`copilot-view-${tab}`} aria-labelledby={`copilot-tab-${tab}`} className={`copilot-view view-${tab}`}>
        {tab === "monitor" && (
          <>
            <RulesPanel rules={rules} conditions={conditions} strategies={strategies} coins={coins}
                        onChanged={() => void loadRules()} />
            <div className="copilot-side">
              <ActionsPanel actions={state.actions} feed={feed} />
              <AlertsPanel alerts={state.alerts} connection={state.connection} feed={feed} />
            </div>
          </>
        )}
        {tab === "history" && <HistoryPanel />}
        {tab === "test" && <TestPanel rules={rules} />}
        {tab === "settings" && <SettingsPanel />}
      </div>
    </section>
  );
}
