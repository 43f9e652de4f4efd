// One declared strategy parameter as a form field: a number with the declared bounds and
// step, a checkbox for a bool, a choice for a listed value; its doc is the field's description.
import { useId } from "react";
import type { ParamSpec } from "../lib/types";

export type ParamValue = string | boolean;

/** The field's text for a value (numbers as typed, bools as they are). */
export function initialValue(spec: ParamSpec, value: unknown): ParamValue {
  if (spec.type === "bool") return Boolean(value ?? spec.default);
  const chosen = value ?? spec.default;
  return chosen === null || chosen === undefined ? "" : String(chosen);
}

/** The value to send: a number for a numeric field (empty: left out, the default applies). */
export function parsedValue(spec: ParamSpec, value: ParamValue): number | string | boolean | undefined {
  if (typeof value === "boolean") return value;
  const text = value.trim();
  if (text === "") return undefined;
  if (spec.type === "int" || spec.type === "float") {
    const number = Number(text);
    return Number.isFinite(number) ? number : text;
  }
  return text;
}

export function ParamField({ spec, value, onChange, error }: {
  spec: ParamSpec;
  value: ParamValue;
  onChange: (value: ParamValue) => void;
  error?: string;
}) {
  const id = useId();
  const docId = `${id}-doc`;
  const describedBy = spec.doc ? docId : undefined;
  const numeric = spec.type === "int" || spec.type === "float";
  const bounds = numeric && (spec.low !== null && spec.low !== undefined
    || spec.high !== null && spec.high !== undefined)
    ? ` (${spec.low ?? "…"} to ${spec.high ?? "…"})` : "";
  let control;
  if (spec.type === "bool") {
    control = (
      <input id={id} type="checkbox" checked={value === true} aria-describedby={describedBy}
             onChange={(event) => onChange(event.target.checked)} />
    );
  } else if (spec.choices && spec.choices.length) {
    control = (
      <select id={id} value={String(value)} aria-describedby={describedBy}
              onChange={(event) => onChange(event.target.value)}>
        {spec.choices.map((choice) => <option key={String(choice)} value={String(choice)}>{String(choice)}</option>)}
      </select>
    );
  } else {
    control = (
      <input id={id} type={numeric ? "number" : "text"} value={String(value)}
             min={numeric ? spec.low ?? undefined : undefined}
             max={numeric ? spec.high ?? undefined : undefined}
             step={numeric ? spec.step ?? (spec.type === "int" ? 1 : "any") : undefined}
             inputMode={numeric ? "decimal" : undefined}
             aria-describedby={describedBy} aria-invalid={error ? true : undefined}
             onChange={(event) => onChange(event.target.value)} />
    );
  }
  return (
    <div className={`field ${spec.type === "bool" ? "field-check" : ""}`}>
      <label htmlFor={id}>{spec.name}</label>
      {control}
      {spec.doc && <small id={docId} className="muted field-doc">{spec.doc}{bounds}</small>}
    </div>
  );
}
