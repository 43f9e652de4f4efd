// One row per timeframe, finest first: direction, strength (ADX), the regression's slope and
// t, moving-average alignment and last cross, volatility regime, character, the nearest
// support and resistance; the plain-language summary under each. Hover a cell for the
// figures behind it; choose a row to draw its timeframe.
import { Fragment, useMemo } from "react";
import { timeframeRow } from "./report";
import type { TimeframeReport } from "./types";

const HEADS = ["TF", "Bars", "Direction", "ADX", "Slope/bar · t", "SMA 20/50/200", "Volatility · ATR", "Character", "Support", "Resistance"];

export function TimeframeTable({ timeframes, chosen, onChoose }: {
  timeframes: TimeframeReport[];
  chosen: string | null;
  onChoose: (timeframe: string) => void;
}) {
  const rows = useMemo(() => timeframes.map(timeframeRow), [timeframes]);
  return (
    <table className="grid tf-table" aria-label="Timeframes">
      <thead>
        <tr>{HEADS.map((head, i) => <th key={head} scope="col" className={i === 1 ? "num" : undefined}>{head}</th>)}</tr>
      </thead>
      <tbody>
        {rows.map((row) => {
          const selected = row.timeframe === chosen;
          const choose = row.ok ? () => onChoose(row.timeframe) : undefined;
          return (
            <Fragment key={row.timeframe}>
              <tr data-timeframe={row.timeframe} className={selected ? "selected" : undefined} onClick={choose}>
                <th scope="row">
                  {row.ok ? (
                    <button type="button" className="link" aria-pressed={selected}
                            aria-label={`Chart ${row.timeframe}`} onClick={choose}>{row.timeframe}</button>
                  ) : row.timeframe}
                </th>
                <td className="num">{row.bars}</td>
                {row.ok ? (
                  <>
                    <td className={row.directionClass}>{row.direction}</td>
                    <td title={row.strengthTitle}>{row.strength}</td>
                    <td className="num" title={row.slopeTitle}>{row.slope}</td>
                    <td title={row.averagesTitle}>{row.averages}</td>
                    <td title={row.volatilityTitle}>{row.volatility}</td>
                    <td title={row.characterTitle}>{row.character}</td>
                    <td className="num gain" title={row.supportTitle}>{row.support}</td>
                    <td className="num loss" title={row.resistanceTitle}>{row.resistance}</td>
                  </>
                ) : <td colSpan={8} className="muted">{row.message}</td>}
              </tr>
              <tr className={`tf-summary${selected ? " selected" : ""}`} onClick={choose}>
                <td colSpan={HEADS.length} data-testid={`summary-${row.timeframe}`}>{row.summary}</td>
              </tr>
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}
