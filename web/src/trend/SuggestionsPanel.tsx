// The suggestions: strategies and parameters that beat both holding and cash out of sample
// after fees, best first, with the evidence (in- and out-of-sample scores, return beside
// holding's, trades, fees) and Apply; when none did, the verdict saying so. Those tried and
// rejected follow, greyed and without Apply, so the verdict can be checked. The timeframe and
// holding's return are the same for every row: the caption gives them once.
import { suggestionRow, suggestionsCaption } from "./report";
import type { Suggestion, Suggestions } from "./types";

export function SuggestionsPanel({ suggestions, asked, running, onApply }: {
  suggestions: Suggestions | null;
  /** Whether the report on show (or the job running) was asked for suggestions. */
  asked: boolean;
  running: boolean;
  onApply: (item: Suggestion) => void;
}) {
  const caption = suggestions ? suggestionsCaption(suggestions) : "";
  return (
    <section className="panel suggestions-panel" aria-label="Suggestions">
      <h2>Suggestions{caption && <span className="count" title={caption}>{caption}</span>}</h2>
      <div className="scroll">
        {!suggestions ? (
          <p className="muted empty">
            {!asked ? "Tick “Suggest strategies” and analyze a bar file to rank the strategies on it."
              : running ? "Ranking the strategies: a walk-forward optimisation of each on the recent bars…"
                : "No suggestions in this report."}
          </p>
        ) : (
          <>
            {!suggestions.items.length && (
              <p className="verdict warn" role="status" data-testid="verdict">
                {suggestions.verdict || "Nothing beat holding or cash out of sample after fees."}
              </p>
            )}
            <SuggestionTable suggestions={suggestions} onApply={onApply} />
          </>
        )}
      </div>
    </section>
  );
}

function SuggestionTable({ suggestions, onApply }: { suggestions: Suggestions; onApply: (item: Suggestion) => void }) {
  const rows = [...suggestions.items.map((item) => ({ item, rejected: false })),
    ...suggestions.rejected.map((item) => ({ item, rejected: true }))];
  if (!rows.length) return null;
  return (
    <table className="grid" aria-label="Suggested strategies">
      <thead>
        <tr>
          <th scope="col" className="num">#</th><th scope="col">Strategy</th><th scope="col">Parameters</th>
          <th scope="col" className="num">IS score</th><th scope="col" className="num">OOS score</th>
          <th scope="col" className="num">OOS return</th>
          <th scope="col" className="num">vs hold</th><th scope="col" className="num">Trades</th>
          <th scope="col" className="num">Fees</th><th scope="col"><span className="sr-only">Apply</span></th>
        </tr>
      </thead>
      <tbody>
        {rows.map(({ item, rejected }) => {
          const row = suggestionRow(item);
          return (
            <tr key={`${rejected ? "r" : "s"}${row.rank}-${row.strategy}`} className={rejected ? "rejected" : undefined}
                data-suggestion={rejected ? undefined : row.rank}>
              <td className="num">{rejected ? "" : row.rank}</td>
              <td>{row.strategy}</td>
              <td className="params" title={row.params}>{row.params}</td>
              <td className="num">{row.inSample}</td>
              <td className="num">{row.outOfSample}</td>
              <td className={`num ${row.oosReturnClass}`}>{row.oosReturn}</td>
              <td className={`num ${row.versusHoldClass}`} title={`holding ${row.hold} in the same windows`}>{row.versusHold}</td>
              <td className="num">{row.trades}</td>
              <td className="num">{row.fees}</td>
              <td>
                {rejected ? <span className="muted">{rejectedWhy(item)}</span> : (
                  <button type="button" className="small" aria-label={`Apply ${row.rank}: ${row.strategy} ${row.params}`}
                          onClick={() => onApply(item)}>Apply</button>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function rejectedWhy(item: Suggestion): string {
  if (!item.beats_hold && !item.beats_cash) return "below hold and cash";
  return item.beats_hold ? "below cash" : "below hold";
}
