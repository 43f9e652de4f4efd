import { describe, expect, it } from "vitest";
import { fillTime, resultColumns, scoreText, sortRows } from "./columns";
import { metricOf, type ResultRow, type RowStats } from "./types";

const row = (rank: number, fast: number, score: number | null, oos?: number | null): ResultRow => ({
  rank, params: { fast, quantity: 0 }, score,
  stats: { total_return_pct: score, net_pnl: score } as unknown as RowStats,
  ...(oos === undefined ? {} : { oos_score: oos }),
});

describe("the ranked table", () => {
  const sharpe = metricOf("sharpe_ratio");

  it("shows rank, the varied parameters and the score, with the out-of-sample score beside it", () => {
    const titles = resultColumns(sharpe, ["fast"], true).map((c) => c.title);
    expect(titles.slice(0, 5)).toEqual(["#", "fast", "Sharpe ratio IS", "Sharpe ratio OOS", "Return IS"]);
    expect(resultColumns(sharpe, ["fast"], false).map((c) => c.title)).not.toContain("Sharpe ratio OOS");
    // without a split the stats are the whole file's, as the equity curve beside them
    expect(resultColumns(sharpe, ["fast"], false).map((c) => c.title)).toContain("Return");
  });

  it("sorts by a column, rows without a value last either way", () => {
    const rows = [row(1, 10, 3), row(2, 5, null), row(3, 20, 1), row(4, 15, 2)];
    const fast = resultColumns(sharpe, ["fast"], false)[1];
    expect(sortRows(rows, fast, "ascending").map((r) => r.rank)).toEqual([2, 1, 4, 3]);
    const score = resultColumns(sharpe, ["fast"], false)[2];
    expect(sortRows(rows, score, "ascending").map((r) => r.rank)).toEqual([3, 4, 1, 2]);
    expect(sortRows(rows, score, "descending").map((r) => r.rank)).toEqual([1, 4, 3, 2]);
  });

  it("writes a score as its metric reads", () => {
    expect(scoreText(sharpe, 4.05326)).toBe("4.053");
    expect(scoreText(metricOf("net_pnl"), 9886.678)).toBe("+9,886.68");
    expect(scoreText(metricOf("total_return"), 101.1686)).toBe("+101.17%");
    expect(scoreText(sharpe, null)).toBe("—");
  });
});

describe("the trades list", () => {
  it("writes a fill's time as its bar's, with seconds only when there are some", () => {
    expect(fillTime(1553493600)).toBe("2019-03-25 06:00");
    expect(fillTime(1553493605)).toBe("2019-03-25 06:00:05");
  });
});
