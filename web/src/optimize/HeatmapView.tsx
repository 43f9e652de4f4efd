// The heatmap: the ranking metric over two chosen parameters as a grid of coloured cells,
// the desktop's scale; hovering a cell shows its parameters and score, clicking selects its row.
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { scoreText } from "./columns";
import { numberText } from "./grid";
import { cellColour, cellText, heatmapGrid } from "./heatmap";
import type { Metric, ResultRow } from "./types";

// a cell's score is written in it only when it fits (the window measures the same way)
const LABEL_WIDTH = 34;
const LABEL_HEIGHT = 14;

/** The size of an element, kept current as the layout changes. */
function useSize(): [React.RefObject<HTMLDivElement | null>, { width: number; height: number }] {
  const ref = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  useEffect(() => {
    const element = ref.current;
    if (!element) return undefined;
    const observer = new ResizeObserver(([entry]) => {
      const { width, height } = entry.contentRect;
      setSize((old) => (old.width === width && old.height === height ? old : { width, height }));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, size];
}

interface Props {
  results: ResultRow[];
  varied: string[];
  metric: Metric;
  sampled: boolean;          // a random search: each cell the best of its rows
  selectedRank: number | null;
  onSelect: (rank: number) => void;
}

export function HeatmapView({ results, varied, metric, sampled, selectedRank, onSelect }: Props) {
  const id = useId();
  const [axes, setAxes] = useState<[string, string]>(["", ""]);
  const [mode, setMode] = useState<"held" | "best" | "">("");
  const x = varied.includes(axes[0]) ? axes[0] : varied[0] ?? "";
  const yDefault = varied.find((n) => n !== x) ?? "";
  const y = varied.includes(axes[1]) && axes[1] !== x ? axes[1] : yDefault;
  const held = (mode || (sampled ? "best" : "held")) === "held";
  const best = results[0];
  const grid = useMemo(() => (x && y && best
    ? heatmapGrid(results, x, y, held ? best.params : null) : null), [results, x, y, held, best]);
  const [hover, setHover] = useState<string>("");
  const others = varied.filter((n) => n !== x && n !== y);

  let note = "";
  if (varied.length < 2) note = "The heatmap needs two varied parameters.";
  else if (others.length && held) {
    note = `Other parameters held at the best row's ${others.map((n) => `${n}=${numberText(best.params[n])}`).join(" ")}.`;
  } else if (others.length) note = "Each cell the best row with that pair.";

  const [body, size] = useSize();
  const labelled = grid !== null && grid.xs.length > 0
    && (size.width - 40) / grid.xs.length >= LABEL_WIDTH
    && (size.height - 40) / grid.ys.length >= LABEL_HEIGHT;
  const describe = (xv: number | boolean, yv: number | boolean, score: number, rank: number) =>
    `${x}=${numberText(xv)} ${y}=${numberText(yv)}: ${metric.title} ${scoreText(metric, score)} (rank ${rank})`;

  return (
    <section className="panel heatmap-panel" aria-label="Heatmap">
      <h2>
        Heatmap
        <span className="spacer" />
        <label htmlFor={`${id}-x`}><span className="sr-only">Heatmap </span>X</label>
        <select id={`${id}-x`} value={x} disabled={varied.length < 2}
                onChange={(e) => setAxes([e.target.value, y === e.target.value ? x : y])}>
          {varied.map((n) => <option key={n}>{n}</option>)}
        </select>
        <label htmlFor={`${id}-y`}><span className="sr-only">Heatmap </span>Y</label>
        <select id={`${id}-y`} value={y} disabled={varied.length < 2}
                onChange={(e) => setAxes([x === e.target.value ? y : x, e.target.value])}>
          {varied.map((n) => <option key={n}>{n}</option>)}
        </select>
        {others.length > 0 && (
          <>
            <label htmlFor={`${id}-mode`} className="sr-only">Heatmap cells</label>
            <select id={`${id}-mode`} value={held ? "held" : "best"}
                    onChange={(e) => setMode(e.target.value as "held" | "best")}>
              <option value="held">others at best row</option>
              <option value="best">best in each cell</option>
            </select>
          </>
        )}
      </h2>
      <div className="heatmap-body" ref={body}>
        {!grid || varied.length < 2 ? (
          <p className="muted empty">
            {results.length ? note : "Run an optimisation over two or more parameters: the ranking metric shows here over two of them."}
          </p>
        ) : (
          <>
            <div className="heatmap" data-testid="heatmap" data-cells={grid.xs.length * grid.ys.length}
                 style={{
                   gridTemplateColumns: `auto repeat(${grid.xs.length}, minmax(0, 1fr))`,
                   gridTemplateRows: `repeat(${grid.ys.length}, minmax(0, 1fr)) auto`,
                 }}
                 onMouseLeave={() => setHover("")}>
              {[...grid.ys.keys()].reverse().map((j) => [
                <span key={`y${j}`} className="axis y">{numberText(grid.ys[j])}</span>,
                ...grid.xs.map((xv, i) => {
                  const cell = grid.cells[j][i];
                  if (!cell) return <span key={`${i}-${j}`} className="cell none" />;
                  const text = describe(xv, grid.ys[j], cell.score, cell.rank);
                  const classes = ["cell", cell.rank === 1 ? "best" : "",
                    cell.rank === selectedRank ? "chosen" : ""].join(" ");
                  return (
                    <span key={`${i}-${j}`} className={classes} title={text}
                          role="button" tabIndex={0} aria-label={text}
                          aria-pressed={cell.rank === selectedRank}
                          style={{ background: cellColour(cell.score, grid.low, grid.high, !metric.higherIsBetter) }}
                          onMouseEnter={() => setHover(text)} onFocus={() => setHover(text)}
                          onClick={() => onSelect(cell.rank)}
                          onKeyDown={(event) => {
                            // a cell is a button for the keyboard too: Enter or Space selects its row
                            if (event.key === "Enter" || event.key === " ") {
                              event.preventDefault();
                              onSelect(cell.rank);
                            }
                          }}>
                      {labelled ? cellText(cell.score) : ""}
                    </span>
                  );
                }),
              ])}
              <span className="axis corner">{y} / {x}</span>
              {grid.xs.map((xv, i) => <span key={`x${i}`} className="axis x">{numberText(xv)}</span>)}
            </div>
            <p className="heat-note" aria-live="polite" title={hover || note}>
              {hover || `${metric.title} in sample; the best row is outlined. ${note} Click a cell (or Tab to it and press Enter) to select its row.`}
            </p>
          </>
        )}
      </div>
    </section>
  );
}
