// A rule as the form holds it (text as typed) and as the API takes it (the spec's Rule JSON),
// the way between them, and the checks the form makes before it asks the server: a mirror of
// copilot/rules.py's for what a field alone can tell (bounds, numbers, the template's
// placeholders, the id's letters); the server still decides, and its message is shown as is.
import { parsedValue, type ParamValue } from "../components/ParamField";
import { amount } from "../lib/format";
import type { ParamSpec } from "../lib/types";
import type {
  ActionType, ConditionParam, ConditionType, FrequencyMode, ParamJson, Rule, RuleAction, ScopeKind,
  Severity,
} from "./types";

/** The placeholders a message may name, with what each becomes. */
export const PLACEHOLDERS: ReadonlyArray<[string, string]> = [
  ["coin", "the coin"], ["price", "the price that fired it"], ["value", "the condition's value"],
  ["threshold", "the level or threshold"], ["strategy", "the strategy id"],
  ["time", "the time (UTC)"], ["rule", "the rule's name"],
];
const PLACEHOLDER_NAMES = new Set(PLACEHOLDERS.map(([name]) => name));

export const FREQUENCIES: ReadonlyArray<[FrequencyMode, string]> = [
  ["once", "Once"], ["once_per_bar", "Once per bar"], ["once_per_bar_close", "Once per bar close"],
  ["every_time", "Every time"],
];

export const SCOPES: ReadonlyArray<[ScopeKind, string]> = [
  ["coin", "A coin"], ["strategy", "A strategy"], ["all", "All"],
];

interface ActionField {
  name: string;
  label: string;
  kind: "strategy" | "number" | "text" | "params" | "bool";
  required: boolean;
  note?: string;
}

/** The actions a rule may take, and the parameters each asks (the spec's action types). */
export const ACTIONS: ReadonlyArray<{ type: ActionType; label: string; fields: ActionField[] }> = [
  { type: "pause_strategy", label: "Pause the strategy", fields: [
    strategyField(), closeField("Close the position too", "its position")] },
  { type: "resume_strategy", label: "Resume the strategy", fields: [strategyField()] },
  { type: "set_quantity", label: "Set the strategy's quantity", fields: [
    strategyField(), { name: "quantity", label: "Quantity", kind: "number", required: true }] },
  { type: "close_position", label: "Close the strategy's position", fields: [strategyField()] },
  { type: "pause_all", label: "Pause every strategy", fields: [
    closeField("Close every position too", "every open position")] },
  { type: "stop_engine", label: "Stop the engine", fields: [] },
  { type: "apply_suggestion", label: "Register a suggested strategy", fields: [
    { name: "strategy", label: "Strategy", kind: "text", required: true },
    { name: "params", label: "Parameters", kind: "params", required: true, note: "as fast=10 slow=30" },
    { name: "coin", label: "Coin", kind: "text", required: true },
    { name: "timeframe", label: "Timeframe", kind: "text", required: true, note: "tick, 1m, 1h…" },
    { name: "id", label: "Strategy id", kind: "text", required: false }] },
];

function strategyField(): ActionField {
  return { name: "strategy_id", label: "Strategy id", kind: "strategy", required: false,
           note: "empty: the alert's strategy" };
}

/** close_positions (false when absent): the pause then closes the position(s) at the market. */
function closeField(label: string, what: string): ActionField {
  return { name: "close_positions", label, kind: "bool", required: false,
           note: `ticked: after pausing, close ${what} at the market; otherwise positions stay open` };
}

export interface RuleForm {
  /** Empty for a new rule: the server makes one from the name. */
  id: string;
  name: string;
  enabled: boolean;
  type: string;
  params: Record<string, ParamValue>;
  scopeKind: ScopeKind;
  scopeValue: string;
  frequency: FrequencyMode;
  cooldown: string;
  bar: string;
  /** UTC, as a datetime-local field writes it (2026-12-31T23:59), or empty for never. */
  expires: string;
  severity: Severity;
  message: string;
  actionType: ActionType | "";
  /** Text as typed; a bool field's is "true", "false" or "" (left out). */
  actionParams: Record<string, string>;
  /** The edited rule's action params the form has no field for, sent back as they were
   * while the action type stays (a param added on the server is not dropped by an edit). */
  keptParams: Record<string, ParamJson>;
  auto: boolean;
}

/** A declared condition parameter as the strategy form's field takes it. */
export function paramSpec(param: ConditionParam): ParamSpec {
  const kind = param.kind.toLowerCase();
  const type = kind === "int" || kind === "integer" ? "int"
    : kind === "bool" || kind === "boolean" ? "bool"
    : ["float", "number", "price", "percent", "amount", "seconds"].includes(kind) ? "float" : "str";
  let choices = param.choices && param.choices.length ? [...param.choices] : null;
  // an optional choice (one of two, e.g. above or below) may be left empty
  if (choices && param.default === null) choices = ["", ...choices];
  return {
    name: param.name, type, default: param.default ?? "", low: param.low ?? null, high: param.high ?? null,
    step: param.step ?? null, choices, doc: param.doc ?? "",
  };
}

function defaultsOf(condition: ConditionType | undefined): Record<string, ParamValue> {
  const values: Record<string, ParamValue> = {};
  for (const param of condition?.params ?? []) {
    values[param.name] = param.kind === "bool" ? Boolean(param.default)
      : param.default === null ? "" : String(param.default);
  }
  return values;
}

/** The scopes a condition type allows (all three when it does not say). */
export function scopesOf(condition: ConditionType | undefined): ScopeKind[] {
  return condition?.scopes?.length ? condition.scopes : SCOPES.map(([kind]) => kind);
}

export function emptyForm(conditions: ConditionType[]): RuleForm {
  const first = conditions[0];
  return {
    id: "", name: "", enabled: true, type: first?.type ?? "", params: defaultsOf(first),
    scopeKind: scopesOf(first)[0], scopeValue: "BTC", frequency: "every_time", cooldown: "60", bar: "",
    expires: "", severity: "warning", message: "", actionType: "", actionParams: {}, keptParams: {},
    auto: false,
  };
}

/** The form for another condition type: its own parameters at their defaults, and a scope
 * it allows. */
export function withType(form: RuleForm, type: string, conditions: ConditionType[]): RuleForm {
  const condition = conditions.find((c) => c.type === type);
  const scopes = scopesOf(condition);
  const scopeKind = scopes.includes(form.scopeKind) ? form.scopeKind : scopes[0];
  return { ...withScope(form, scopeKind), type, params: defaultsOf(condition) };
}

/** The form with another action type: its fields start empty, and the edited rule's other
 * params (of the type it had) are not carried over. */
export function withActionType(form: RuleForm, actionType: RuleForm["actionType"]): RuleForm {
  if (actionType === form.actionType) return form;
  return { ...form, actionType, actionParams: {}, keptParams: {} };
}

/** The form with another scope kind: a coin's name is not a strategy id, so the value starts
 * again (BTC for a coin, empty for a strategy). */
export function withScope(form: RuleForm, scopeKind: ScopeKind): RuleForm {
  if (scopeKind === form.scopeKind) return form;
  return { ...form, scopeKind, scopeValue: scopeKind === "coin" ? "BTC" : "" };
}

function text(value: ParamJson | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}=${v}`).join(" ");
  return String(value);
}

/** The form of an existing rule (Edit). */
export function formFromRule(rule: Rule, conditions: ConditionType[]): RuleForm {
  const condition = conditions.find((c) => c.type === rule.condition.type);
  const params = defaultsOf(condition);
  for (const [name, value] of Object.entries(rule.condition.params)) {
    params[name] = typeof value === "boolean" ? value : text(value);
  }
  const fields = new Set(ACTIONS.find((a) => a.type === rule.action?.type)?.fields.map((f) => f.name) ?? []);
  const actionParams: Record<string, string> = {};
  const keptParams: Record<string, ParamJson> = {};
  for (const [name, value] of Object.entries(rule.action?.params ?? {})) {
    if (fields.has(name)) actionParams[name] = text(value);
    else keptParams[name] = value;
  }
  return {
    id: rule.id, name: rule.name, enabled: rule.enabled, type: rule.condition.type, params,
    scopeKind: rule.scope.kind, scopeValue: rule.scope.value ?? "",
    frequency: rule.frequency.mode,
    cooldown: rule.frequency.cooldown_s === null || rule.frequency.cooldown_s === undefined
      ? "" : String(rule.frequency.cooldown_s),
    bar: rule.frequency.bar ?? "", expires: rule.expires === null ? "" : expiresText(rule.expires),
    severity: rule.severity, message: rule.message, actionType: rule.action?.type ?? "",
    actionParams, keptParams, auto: rule.action?.auto ?? false,
  };
}

/** Epoch seconds as a datetime-local value in UTC: 2026-12-31T23:59. */
export function expiresText(seconds: number): string {
  return new Date(seconds * 1000).toISOString().slice(0, 16);
}

/** A datetime-local value read as UTC, in epoch seconds; NaN when it is not a time. */
export function expiresSeconds(value: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return Number.NaN;
  return Date.parse(`${value}Z`) / 1000;
}

/** The placeholders a message template names, or the reason it is malformed (Python's
 * str.format rules: {{ and }} are braces, a field is {name} or {name:spec}), worded as
 * copilot/templates.py words it. */
export function templateFields(template: string, condition?: ConditionType): { fields: string[] } | { problem: string } {
  const fields: string[] = [];
  for (let i = 0; i < template.length; i++) {
    const char = template[i];
    if (char === "}") {
      if (template[i + 1] === "}") {
        i++;
        continue;
      }
      return { problem: "has a '}' with no '{' before it: write '}}' for a brace in the text" };
    }
    if (char !== "{") continue;
    if (template[i + 1] === "{") {
      i++;
      continue;
    }
    const end = template.indexOf("}", i);
    const body = end < 0 ? "" : template.slice(i + 1, end);
    if (end < 0 || body.includes("{")) return { problem: UNCLOSED };
    const name = body.split(/[:!]/)[0];
    if (!name) return { problem: `has an empty placeholder {}: name one of ${placeholderList(condition)}` };
    fields.push(name);
    i = end;
  }
  return { fields };
}

const UNCLOSED = "has a '{' that is not closed: close the placeholder, or write '{{' for a brace";

/** {coin}, {price}, …; a rsi rule's also {timeframe}, …: the placeholders as the server's
 * messages list them. */
export function placeholderList(condition?: ConditionType): string {
  const names = PLACEHOLDERS.map(([name]) => `{${name}}`).join(", ");
  const extra = (condition?.placeholders ?? []).filter((name) => !PLACEHOLDER_NAMES.has(name));
  return extra.length ? `${names}; a ${condition!.type} rule's also ${extra.map((n) => `{${n}}`).join(", ")}` : names;
}

/** What is wrong with the message template, or "" when nothing is (an empty one is the
 * condition's own message). `condition` adds the placeholders its type declares. */
export function templateProblem(template: string, condition?: ConditionType): string {
  if (!template.trim()) return "";
  const parsed = templateFields(template, condition);
  if ("problem" in parsed) return `the message ${parsed.problem}`;
  const extra = new Set(condition?.placeholders ?? []);
  const unknown = parsed.fields.filter((name) => !PLACEHOLDER_NAMES.has(name) && !extra.has(name));
  return unknown.length
    ? `the message has an unknown placeholder {${unknown[0]}}: the placeholders are ${placeholderList(condition)}`
    : "";
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** The params text of apply_suggestion, fast=10 slow=30, as a dict (numbers as numbers). */
export function parseParamsText(value: string): Record<string, number | boolean | string> | string {
  const params: Record<string, number | boolean | string> = {};
  for (const part of value.trim().split(/[\s,]+/).filter(Boolean)) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(part);
    if (!match) return `"${part}" is not name=value`;
    const raw = match[2];
    params[match[1]] = raw === "true" ? true : raw === "false" ? false
      : Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return params;
}

/** Each field's problem (by field key: name, id, param:<name>, scope, cooldown, expires,
 * message, action:<name>), empty when the form may be sent. */
export function validateForm(form: RuleForm, conditions: ConditionType[]): Record<string, string> {
  const problems: Record<string, string> = {};
  if (!form.name.trim()) problems.name = "give the rule a name";
  if (form.id && !ID.test(form.id)) problems.id = "an id is 1 to 64 letters, digits, _ . or -";
  const condition = conditions.find((c) => c.type === form.type);
  if (!condition) problems.type = "choose a condition";
  const grouped = new Set((condition?.one_of ?? []).flat());
  for (const param of condition?.params ?? []) {
    const value = form.params[param.name] ?? "";
    const problem = paramProblem(param, value);
    if (problem) problems[`param:${param.name}`] = problem;
    else if (param.default === null && !grouped.has(param.name) && value === "") {
      problems[`param:${param.name}`] = `${param.name} is needed`;
    }
  }
  for (const group of condition?.one_of ?? []) {
    const given = group.filter((name) => String(form.params[name] ?? "").trim() !== "");
    if (given.length === 1) continue;
    const key = `param:${given.length ? given[1] : group[0]}`;
    problems[key] ??= given.length ? `give only one of ${group.join(" or ")}` : `give ${group.join(" or ")}`;
  }
  const scopes = scopesOf(condition);
  if (condition && !scopes.includes(form.scopeKind)) {
    problems.scope = `a ${condition.type} rule watches ${scopes.map(scopeWord).join(" or ")}`;
  } else if (form.scopeKind !== "all" && !form.scopeValue.trim()) {
    problems.scope = form.scopeKind === "coin" ? "name the coin (BTC)" : "name the strategy id";
  }
  if (form.frequency === "every_time" && form.cooldown.trim() !== "") {
    const cooldown = Number(form.cooldown);
    if (!Number.isFinite(cooldown) || cooldown < 0) problems.cooldown = "the cooldown is seconds, 0 or more";
  }
  if (form.expires && !Number.isFinite(expiresSeconds(form.expires))) problems.expires = "not a date and time";
  const template = templateProblem(form.message, condition);
  if (template) problems.message = template;
  const action = ACTIONS.find((a) => a.type === form.actionType);
  for (const field of action?.fields ?? []) {
    const value = (form.actionParams[field.name] ?? "").trim();
    if (!value) {
      if (field.required) problems[`action:${field.name}`] = `${field.label.toLowerCase()} is needed`;
    } else if (field.kind === "number" && !(Number(value) > 0)) {
      problems[`action:${field.name}`] = `${field.label.toLowerCase()} must be a number above 0`;
    } else if (field.kind === "params" && typeof parseParamsText(value) === "string") {
      problems[`action:${field.name}`] = parseParamsText(value) as string;
    }
  }
  return problems;
}

function paramProblem(param: ConditionParam, value: ParamValue): string {
  const spec = paramSpec(param);
  const parsed = parsedValue(spec, value);
  if (parsed === undefined || typeof parsed === "boolean") return "";
  if (spec.type !== "int" && spec.type !== "float") {
    return spec.choices && !spec.choices.map(String).includes(String(parsed))
      ? `choose one of ${spec.choices.filter((c) => c !== "").join(", ")}` : "";
  }
  if (typeof parsed !== "number") return `${param.name} must be a number`;
  if (spec.type === "int" && !Number.isInteger(parsed)) return `${param.name} must be a whole number`;
  if (spec.low !== null && spec.low !== undefined) {
    if (param.exclusive_low && parsed <= spec.low) return `${param.name} must be above ${spec.low}`;
    if (parsed < spec.low) return `${param.name} must be at least ${spec.low}`;
  }
  if (spec.high !== null && spec.high !== undefined && parsed > spec.high) return `${param.name} must be at most ${spec.high}`;
  return "";
}

/** The Rule JSON the form stands for (check validateForm first). */
export function ruleFromForm(form: RuleForm, conditions: ConditionType[]): Rule {
  const condition = conditions.find((c) => c.type === form.type);
  const params: Record<string, ParamJson> = {};
  for (const param of condition?.params ?? []) {
    const value = parsedValue(paramSpec(param), form.params[param.name] ?? "");
    if (value !== undefined) params[param.name] = value;
  }
  const frequency: Rule["frequency"] = { mode: form.frequency };
  if (form.frequency === "every_time" && form.cooldown.trim() !== "") frequency.cooldown_s = Number(form.cooldown);
  if (form.frequency.startsWith("once_per_bar") && form.bar) frequency.bar = form.bar;
  const rule: Rule = {
    id: form.id.trim(), name: form.name.trim(), enabled: form.enabled,
    condition: { type: form.type, params },
    scope: { kind: form.scopeKind, value: form.scopeKind === "all" ? null : scopeValue(form) },
    frequency, expires: form.expires ? expiresSeconds(form.expires) : null,
    severity: form.severity, message: form.message, action: actionOf(form),
  };
  if (!rule.id) delete (rule as Partial<Rule>).id;
  return rule;
}

function scopeWord(kind: ScopeKind): string {
  return kind === "all" ? "all" : `a ${kind}`;
}

function scopeValue(form: RuleForm): string {
  const value = form.scopeValue.trim();
  return form.scopeKind === "coin" ? value.toUpperCase() : value;
}

function actionOf(form: RuleForm): RuleAction | null {
  const action = ACTIONS.find((a) => a.type === form.actionType);
  if (!action) return null;
  const params: Record<string, ParamJson> = { ...form.keptParams };
  for (const field of action.fields) {
    const value = (form.actionParams[field.name] ?? "").trim();
    if (!value) continue;
    if (field.kind === "bool") params[field.name] = value === "true";
    else if (field.kind === "number") params[field.name] = Number(value);
    else if (field.kind === "params") params[field.name] = parseParamsText(value) as Record<string, number>;
    else params[field.name] = value;
  }
  return { type: action.type, params, auto: form.auto };
}

/** The condition as a line: price_cross level=70000 direction=up. */
export function conditionText(rule: Pick<Rule, "condition">): string {
  const params = Object.entries(rule.condition.params).map(([k, v]) => `${k}=${text(v)}`).join(" ");
  return params ? `${rule.condition.type} ${params}` : rule.condition.type;
}

export function scopeText(rule: Pick<Rule, "scope">): string {
  return rule.scope.kind === "all" ? "all" : `${rule.scope.kind} ${rule.scope.value ?? ""}`;
}

export function frequencyText(rule: Pick<Rule, "frequency">): string {
  const { mode, cooldown_s: cooldown, bar } = rule.frequency;
  if (mode === "every_time") return cooldown ? `every time, ${cooldown} s apart` : "every time";
  const name = FREQUENCIES.find(([m]) => m === mode)?.[1].toLowerCase() ?? mode;
  return bar ? `${name} (${bar})` : name;
}

export function actionText(action: { type: string; params: Record<string, ParamJson> } | null): string {
  if (!action) return "";
  const params = Object.entries(action.params).map(([k, v]) => `${k}=${text(v)}`).join(" ");
  return params ? `${action.type} ${params}` : action.type;
}

/** The rules in a rules file: {"rules": [...]} or a list. */
export function rulesInFile(text: string): unknown[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `not a rules file: ${(error as Error).message}`;
  }
  const rules = Array.isArray(parsed) ? parsed
    : parsed && typeof parsed === "object" && Array.isArray((parsed as { rules?: unknown }).rules)
      ? (parsed as { rules: unknown[] }).rules : null;
  return rules ?? 'not a rules file: expected {"rules": [...]} or a list of rules';
}

/** A level or threshold as the alert messages write it (copilot/templates.py number_text):
 * 70,000 whole, 70,012.50 from 1 up, six significant digits below (0.5, 0.000123). */
export function levelText(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return amount(value, 0);
  if (Math.abs(value) >= 1) return amount(value, 2);
  return String(Number(value.toPrecision(6)));
}
