// "Apply to live": register a ranked parameter set (an optimisation row, a trend suggestion) as
// a live strategy on a coin the trader confirms, deciding on bars of the interval it was tuned
// on, with the API's reply shown as is.
import { useEffect, useId, useRef, useState } from "react";
import { api, errorText } from "../lib/api";
import { TIMEFRAMES, uniqueId } from "../lib/live";
import { numberText, type ParamValue, paramsText } from "../lib/params";
import type { Strategy } from "../lib/types";
import "./ApplyDialog.css";

interface Props {
  strategy: string;
  params: Record<string, ParamValue>;
  rank: number;
  defaultCoin: string;
  defaultTimeframe: string;
  onClose: () => void;
}

export function ApplyDialog({ strategy, params, rank, defaultCoin, defaultTimeframe, onClose }: Props) {
  const id = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  const [coin, setCoin] = useState(defaultCoin);
  const [timeframe, setTimeframe] = useState(defaultTimeframe);
  const [strategyId, setStrategyId] = useState("");
  const [busy, setBusy] = useState(false);
  const [reply, setReply] = useState<{ ok: boolean; text: string } | null>(null);

  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element?.close();
  }, []);

  const submit = async () => {
    const symbol = coin.trim().toUpperCase();
    setBusy(true);
    setReply(null);
    try {
      let wanted = strategyId.trim();
      if (!wanted) {
        // as the window does: <COIN>_<name>, or the first free _2, _3, …
        const taken = new Set((await api.get<Strategy[]>("/api/strategies")).map((s) => s.strategy_id));
        wanted = uniqueId(`${symbol}_${strategy}`, taken);
      }
      const registered = await api.post<Strategy>("/api/strategies/register", {
        name: strategy, coin: symbol, params, timeframe, strategy_id: wanted,
      });
      const shown = Object.entries(registered.params).map(([k, v]) => `${k}=${numberText(Number(v))}`).join(" ");
      setReply({ ok: true, text: `Registered ${registered.strategy_id} (${registered.timeframe}) with ${shown}` });
    } catch (error) {
      setReply({ ok: false, text: errorText(error) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} className="apply-dialog" aria-labelledby={`${id}-title`}
            onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <h2 id={`${id}-title`}>Apply to live</h2>
        <p className="muted">
          Register {strategy} with rank {rank}'s parameters:{" "}
          <code>{paramsText(params)}</code>.
          It trades at once if the engine runs.
        </p>
        <div className="field">
          <label htmlFor={`${id}-coin`}>Coin</label>
          <input id={`${id}-coin`} value={coin} autoFocus autoComplete="off"
                 onChange={(e) => setCoin(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${id}-tf`}>Timeframe</label>
          <select id={`${id}-tf`} value={timeframe} onChange={(e) => setTimeframe(e.target.value)}
                  aria-describedby={`${id}-tf-note`}>
            <option value="tick">tick</option>
            {TIMEFRAMES.map(([name]) => <option key={name} value={name}>{name}</option>)}
          </select>
          <span id={`${id}-tf-note`} className="note">
            parameters tuned on bars of one size mean the same only on bars of that size
          </span>
        </div>
        <div className="field">
          <label htmlFor={`${id}-sid`}>Strategy id</label>
          <input id={`${id}-sid`} value={strategyId} autoComplete="off"
                 placeholder={`${coin.trim().toUpperCase() || "COIN"}_${strategy}`}
                 onChange={(e) => setStrategyId(e.target.value)} />
        </div>
        {reply && (reply.ok
          ? <p role="status" className="gain">{reply.text}</p>
          : <p role="alert" className="error-text">{reply.text}</p>)}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !coin.trim()}>Register</button>
          <button type="button" onClick={onClose}>{reply?.ok ? "Close" : "Cancel"}</button>
        </div>
      </form>
    </dialog>
  );
}
