// Taking a result row to live trading: the coin a bar file is about, the live timeframe of
// its bars and a free strategy id (gui/optimization/helpers.py: bar_timeframe, unique_id).

const QUOTES = ["USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD", "EUR", "BTC", "ETH"];
// words a file is named by that are not coins (an upload without a name is upload.csv)
const NOT_COINS = new Set(["FILE", "UPLOAD", "DATA", "BARS", "SAMPLE", "HISTORY", "PRICES"]);

/** The coin of a bar file: BTCUSD-1h-sample.csv and upload-…-ethusdt-1m.csv give BTC and
 * ETH; BTC when the name says nothing. */
export function coinFromFile(name: string): string {
  const bare = name.replace(/^upload-\d+-/, "").replace(/\.(csv|zip|gz)$/gi, "");
  const token = (bare.split(/[-_ .]/)[0] ?? "").toUpperCase().replace(/[^A-Z0-9]/g, "");
  if (!token || NOT_COINS.has(token)) return "BTC";
  for (const quote of QUOTES) {
    if (token.length > quote.length && token.endsWith(quote)) return token.slice(0, -quote.length);
  }
  return token.length <= 10 ? token : "BTC";
}

/** The timeframe a file's name states (btc-1h.csv, BTCUSDT-15m-2024.zip), or null. */
export function timeframeFromFile(name: string): string | null {
  const match = /(?:^|[-_ .])(\d+[smhd])(?=$|[-_ .])/i.exec(name.replace(/^upload-\d+-/, ""));
  if (!match) return null;
  const wanted = match[1].toLowerCase();
  return TIMEFRAMES.some(([tf]) => tf === wanted) ? wanted : null;
}

/** Live bar timeframes and their seconds (core/types.py TIMEFRAMES). */
export const TIMEFRAMES: ReadonlyArray<[string, number]> = [
  ["1s", 1], ["5s", 5], ["15s", 15], ["30s", 30], ["1m", 60], ["3m", 180], ["5m", 300],
  ["15m", 900], ["30m", 1800], ["1h", 3600], ["2h", 7200], ["4h", 14400], ["6h", 21600],
  ["8h", 28800], ["12h", 43200], ["1d", 86400],
];

/** The bar interval of a series of bar times: the commonest gap (a weekend gap or a missing
 * bar does not change it), or null for fewer than two bars. */
export function barInterval(times: number[]): number | null {
  const counts = new Map<number, number>();
  for (let i = 1; i < times.length; i += 1) {
    const gap = Math.round(times[i] - times[i - 1]);
    if (gap > 0) counts.set(gap, (counts.get(gap) ?? 0) + 1);
  }
  let best: number | null = null;
  let most = 0;
  for (const [gap, n] of counts) {
    if (n > most) {
      best = gap;
      most = n;
    }
  }
  return best;
}

/** Parameters tuned on hourly bars mean the same only on hourly bars: the live timeframe of
 * bars `interval` seconds long, or "tick" when there is none. */
export function barTimeframe(interval: number | null): string {
  if (interval === null) return "tick";
  const match = TIMEFRAMES.find(([, seconds]) => Math.abs(seconds - interval) < 1e-6);
  return match ? match[0] : "tick";
}

/** `wanted` if free, else wanted_2, wanted_3, … (the first one free). */
export function uniqueId(wanted: string, taken: Set<string>): string {
  if (!taken.has(wanted)) return wanted;
  let number = 2;
  while (taken.has(`${wanted}_${number}`)) number += 1;
  return `${wanted}_${number}`;
}
