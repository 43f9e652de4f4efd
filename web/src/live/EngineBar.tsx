// Start and stop the engine: the source, its coins and its pace (POST /api/engine/start's
// query parameters, docs/api.md).
import { memo, useEffect, useState } from "react";
import { api } from "../lib/api";
import type { EngineStatus, EngineStatusName } from "../lib/types";
import { useAction } from "../lib/useAction";

type Source = "simulated" | "csv" | "binance";

const RUNNING: EngineStatusName[] = ["running", "paused", "starting"];
const BUSY: EngineStatusName[] = ["running", "paused", "starting", "stopping"];

/** `BTC=btc.csv, ETH=eth.csv` as the API's repeated csv= parameters. */
export function csvParams(text: string): string[] {
  return text.split(/[,\n]/).map((part) => part.trim()).filter(Boolean);
}

export const EngineBar = memo(function EngineBar({ status, engine, onChanged }: {
  status: EngineStatusName;
  engine: EngineStatus | null;
  onChanged: () => void;
}) {
  const [source, setSource] = useState<Source>("simulated");
  const [coins, setCoins] = useState("BTC,ETH");
  const [rate, setRate] = useState("1000");
  const [speed, setSpeed] = useState("");
  const [csv, setCsv] = useState("");
  const [seed, setSeed] = useState("");
  const { busy, error, run } = useAction();

  // The form shows the session the engine runs (or ran last), whoever started it: the window,
  // a script or this page; a trader then changes what they want and starts again.
  const sessionKey = engine ? `${engine.session_id}|${engine.source}|${BUSY.includes(engine.status)}` : "";
  useEffect(() => {
    if (!engine || engine.session_id === null || !engine.source) return;
    if (engine.source === "simulated" || engine.source === "csv" || engine.source === "binance") {
      setSource(engine.source);
    }
    if (engine.coins?.length) setCoins(engine.coins.join(","));
    if (engine.rate !== null && engine.rate !== undefined) setRate(String(engine.rate));
    setSpeed(engine.speed === null || engine.speed === undefined ? "" : String(engine.speed));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sessionKey]);

  const canStart = !busy && !BUSY.includes(status);
  const canStop = !busy && RUNNING.includes(status);

  const start = async () => {
    await run(() => api.post("/api/engine/start", undefined, {
      data_source: source,
      coins: coins.replace(/\s+/g, "") || undefined,
      rate: source === "simulated" ? rate.trim() || undefined : undefined,
      speed: source === "csv" ? speed.trim() || undefined : undefined,
      csv: source === "csv" ? csvParams(csv) : undefined,
      seed: source === "simulated" ? seed.trim() || undefined : undefined,
    }));
    onChanged();
  };

  const stop = async () => {
    await run(() => api.post("/api/engine/stop"));
    onChanged();
  };

  return (
    <form role="form" aria-label="Engine" className="engine-bar"
          onSubmit={(event) => { event.preventDefault(); if (canStart) void start(); }}>
      <div className="field inline">
        <label htmlFor="engine-source">Source</label>
        <select id="engine-source" value={source} onChange={(event) => setSource(event.target.value as Source)}>
          <option value="simulated">simulated</option>
          <option value="csv">csv</option>
          <option value="binance">binance</option>
        </select>
      </div>
      <div className="field inline">
        <label htmlFor="engine-coins">Coins</label>
        <input id="engine-coins" value={coins} size={10} spellCheck={false}
               onChange={(event) => setCoins(event.target.value)} />
      </div>
      <div className="field inline">
        <label htmlFor="engine-rate">Rate</label>
        <input id="engine-rate" type="number" min={1} step="any" value={rate} className="w-num"
               disabled={source !== "simulated"} title="Simulated ticks per second"
               onChange={(event) => setRate(event.target.value)} />
      </div>
      <div className="field inline">
        <label htmlFor="engine-speed">Speed</label>
        <input id="engine-speed" type="number" min={0} step="any" value={speed} className="w-num"
               placeholder="max" disabled={source !== "csv"}
               title="CSV replay speed: 1 = real time; empty = as fast as possible"
               onChange={(event) => setSpeed(event.target.value)} />
      </div>
      <div className="field inline grow">
        <label htmlFor="engine-csv">CSV files</label>
        <input id="engine-csv" value={csv} placeholder="BTC=btc.csv, ETH=eth.csv" spellCheck={false}
               disabled={source !== "csv"} onChange={(event) => setCsv(event.target.value)} />
      </div>
      <div className="field inline">
        <label htmlFor="engine-seed">Seed</label>
        <input id="engine-seed" type="number" step={1} value={seed} className="w-seed" placeholder="clock"
               disabled={source !== "simulated"} onChange={(event) => setSeed(event.target.value)} />
      </div>
      <button type="submit" className="primary" disabled={!canStart}>Start</button>
      <button type="button" className="danger" disabled={!canStop} onClick={() => void stop()}>Stop</button>
      <span className={`engine-status status-${status}`} data-testid="engine-status">{status.toUpperCase()}</span>
      {error && <p role="alert" className="error-text engine-error">{error}</p>}
    </form>
  );
});
