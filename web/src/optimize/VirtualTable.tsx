// A virtualised, sortable table for the ranked results and a row's trades: only the rows in
// view are in the page (tanstack virtual), with spacer rows keeping the scroll height.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import type { Column, Direction } from "./columns";

const ROW_HEIGHT = 23;

export interface Sort {
  key: string;
  direction: Direction;
}

interface Props<Row extends { rank: number }> {
  label: string;
  columns: Column<Row>[];
  rows: Row[];
  rowKey: (row: Row, index: number) => string | number;
  rowAttributes?: (row: Row) => Record<string, string | number>;
  selected?: string | number | null;
  onSelect?: (row: Row) => void;
  sort?: Sort;
  onSort?: (sort: Sort) => void;
  empty: string;
}

export function VirtualTable<Row extends { rank: number }>(props: Props<Row>) {
  const { columns, rows, rowKey, selected, onSelect, sort, onSort } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const selectedIndex = selected === null || selected === undefined
    ? -1 : rows.findIndex((row, i) => rowKey(row, i) === selected);

  useEffect(() => {
    if (selectedIndex >= 0) virtualizer.scrollToIndex(selectedIndex, { align: "auto" });
  }, [selectedIndex, virtualizer]);

  const items = virtualizer.getVirtualItems();
  const top = items.length ? items[0].start : 0;
  const bottom = items.length ? virtualizer.getTotalSize() - items[items.length - 1].end : 0;

  const move = (event: React.KeyboardEvent) => {
    if (!onSelect || !rows.length) return;
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[event.key];
    let next: number | undefined;
    if (step !== undefined) next = Math.min(rows.length - 1, Math.max(0, selectedIndex + step));
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = rows.length - 1;
    if (next === undefined) return;
    event.preventDefault();
    onSelect(rows[next]);
  };

  const headerCell = (column: Column<Row>) => {
    const active = sort?.key === column.key;
    const className = column.numeric ? "num" : undefined;
    if (!onSort) return <th key={column.key} scope="col" className={className}>{column.title}</th>;
    const nextDirection: Direction = active && sort?.direction === "ascending" ? "descending" : "ascending";
    return (
      <th key={column.key} scope="col" className={className}
          aria-sort={active ? sort?.direction : undefined}>
        <button type="button" className="sort" onClick={() => onSort({ key: column.key, direction: nextDirection })}
                title={`Sort by ${column.title}`}>
          {column.title}
          <span aria-hidden="true" className="sort-mark">
            {active ? (sort?.direction === "ascending" ? "▲" : "▼") : ""}
          </span>
        </button>
      </th>
    );
  };

  return (
    <div className="vtable" ref={scroller} tabIndex={onSelect ? 0 : -1} onKeyDown={move}
         aria-label={onSelect ? `${props.label}: arrow keys move the selection` : props.label}
         role="group">
      <table className="grid" aria-label={props.label} aria-rowcount={rows.length + 1}>
        <thead>
          <tr>{columns.map(headerCell)}</tr>
        </thead>
        <tbody>
          {top > 0 && <tr role="presentation" style={{ height: top }} />}
          {items.map((item) => {
            const row = rows[item.index];
            const key = rowKey(row, item.index);
            const isSelected = key === selected;
            return (
              <tr key={key} aria-rowindex={item.index + 2}
                  className={isSelected ? "selected" : undefined}
                  aria-selected={onSelect ? isSelected : undefined}
                  onClick={onSelect ? () => onSelect(row) : undefined}
                  {...props.rowAttributes?.(row)}>
                {columns.map((column) => (
                  <td key={column.key}
                      className={[column.numeric ? "num" : "", column.className?.(row) ?? ""].join(" ").trim() || undefined}>
                    {column.text(row)}
                  </td>
                ))}
              </tr>
            );
          })}
          {bottom > 0 && <tr role="presentation" style={{ height: bottom }} />}
        </tbody>
      </table>
      {!rows.length && <p className="muted empty">{props.empty}</p>}
    </div>
  );
}
