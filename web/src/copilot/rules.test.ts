import { describe, expect, it } from "vitest";
import {
  emptyForm, expiresSeconds, expiresText, formFromRule, levelText, parseParamsText, ruleFromForm, rulesInFile,
  templateFields,
  templateProblem, validateForm, withActionType, withType,
} from "./rules";
import type { ConditionType, Rule } from "./types";

// as copilot/conditions.py describe_conditions() declares them (trimmed)
const CONDITIONS: ConditionType[] = [
  { type: "price_cross", group: "price", doc: "The price crosses a level.", scopes: ["coin", "all"], one_of: [],
    message: "{coin} crossed {threshold} at {price}", params: [
      { name: "level", kind: "number", default: null, low: 0, high: null, exclusive_low: true, doc: "the level" },
      { name: "direction", kind: "choice", default: "either", choices: ["up", "down", "either"], doc: "" }] },
  { type: "rsi", group: "indicator", doc: "RSI above or below a threshold.", scopes: ["coin", "all"],
    one_of: [["above", "below"]], placeholders: ["timeframe", "period", "above", "below", "side"], params: [
      { name: "timeframe", kind: "timeframe", default: "1m", choices: ["1m", "5m", "1h"] },
      { name: "period", kind: "integer", default: 14, low: 2, high: 200 },
      { name: "above", kind: "number", default: null, low: 0, high: 100 },
      { name: "below", kind: "number", default: null, low: 0, high: 100 }] },
  { type: "strategy_error", group: "strategy", doc: "A strategy in its error state.", scopes: ["strategy", "all"],
    params: [] },
];

const RULE: Rule = {
  id: "btc-70k", name: "BTC above 70k", enabled: true,
  condition: { type: "price_cross", params: { level: 70000, direction: "up" } },
  scope: { kind: "coin", value: "BTC" }, frequency: { mode: "every_time", cooldown_s: 60 },
  expires: null, severity: "warning", message: "{coin} crossed {threshold} at {price:,.2f}",
  action: { type: "pause_strategy", params: { strategy_id: "BTC_SMA" }, auto: false },
};

describe("templates", () => {
  it("lists the placeholders a message names, with format specs and escaped braces", () => {
    expect(templateFields("{coin} at {price:,.2f} {{literal}} {rule!r}")).toEqual(
      { fields: ["coin", "price", "rule"] });
  });

  it("names an unknown placeholder and the ones allowed", () => {
    expect(templateProblem("{coin} hit {level}")).toBe("the message has an unknown placeholder {level}: " +
      "the placeholders are {coin}, {price}, {value}, {threshold}, {strategy}, {time}, {rule}");
  });

  it("says where a template is malformed", () => {
    const unclosed = "the message has a '{' that is not closed: close the placeholder, or write '{{' for a brace";
    expect(templateProblem("{coin at {price}")).toBe(unclosed);
    expect(templateProblem("{price")).toBe(unclosed);
    expect(templateProblem("price } high")).toBe(
      "the message has a '}' with no '{' before it: write '}}' for a brace in the text");
    expect(templateProblem("{} moved")).toMatch(/^the message has an empty placeholder \{\}: name one of \{coin\}/);
    expect(templateProblem("{coin} {{ok}}")).toBe("");
  });

  it("takes the placeholders the condition declares, and names them when one is unknown", () => {
    const rsi = CONDITIONS[1];
    expect(templateProblem("{coin} {timeframe} RSI {value:.1f} {side}", rsi)).toBe("");
    expect(templateProblem("{coin} {timeframe}")).toMatch(/unknown placeholder \{timeframe\}/);
    expect(templateProblem("{unit}", rsi)).toBe("the message has an unknown placeholder {unit}: the placeholders " +
      "are {coin}, {price}, {value}, {threshold}, {strategy}, {time}, {rule}; a rsi rule's also {timeframe}, " +
      "{period}, {above}, {below}, {side}");
  });

  it("takes an empty message (the condition's own is used)", () => {
    expect(templateProblem("  ")).toBe("");
  });
});

describe("form and rule JSON", () => {
  it("a rule read into the form comes back as the same JSON", () => {
    const form = formFromRule(RULE, CONDITIONS);
    expect(form.params).toEqual({ level: "70000", direction: "up" });
    expect(validateForm(form, CONDITIONS)).toEqual({});
    const { created: _c, fired: _f, ...written } = ruleFromForm(form, CONDITIONS) as Rule;
    expect(written).toEqual(RULE);
  });

  it("a new rule leaves out the id (the server makes it from the name) and the empty optional params", () => {
    const form = { ...withType(emptyForm(CONDITIONS), "rsi", CONDITIONS), name: "RSI low" };
    form.params = { ...form.params, below: "30" };
    const rule = ruleFromForm(form, CONDITIONS);
    expect("id" in rule).toBe(false);
    expect(rule.condition).toEqual({ type: "rsi", params: { timeframe: "1m", period: 14, below: 30 } });
    expect(rule.scope).toEqual({ kind: "coin", value: "BTC" });
    expect(rule.action).toBeNull();
  });

  it("writes the frequency each mode takes: a cooldown for every time, a bar for the bar modes", () => {
    const form = { ...emptyForm(CONDITIONS), name: "x", params: { level: "1", direction: "up" } };
    expect(ruleFromForm({ ...form, frequency: "once_per_bar_close", bar: "5m", cooldown: "60" }, CONDITIONS).frequency)
      .toEqual({ mode: "once_per_bar_close", bar: "5m" });
    expect(ruleFromForm({ ...form, frequency: "once", bar: "5m" }, CONDITIONS).frequency).toEqual({ mode: "once" });
    expect(ruleFromForm({ ...form, frequency: "every_time", cooldown: "30" }, CONDITIONS).frequency)
      .toEqual({ mode: "every_time", cooldown_s: 30 });
  });

  it("scope all has no value, a coin is upper-cased", () => {
    const form = { ...emptyForm(CONDITIONS), name: "x", params: { level: "1", direction: "up" } };
    expect(ruleFromForm({ ...form, scopeKind: "all", scopeValue: "BTC" }, CONDITIONS).scope).toEqual({ kind: "all", value: null });
    expect(ruleFromForm({ ...form, scopeValue: " eth " }, CONDITIONS).scope).toEqual({ kind: "coin", value: "ETH" });
  });

  it("an action's numbers and parameters are sent typed", () => {
    const form = {
      ...emptyForm(CONDITIONS), name: "x", params: { level: "1", direction: "up" },
      actionType: "apply_suggestion" as const, auto: true,
      actionParams: { strategy: "SMA_Crossover", params: "fast=10 slow=30", coin: "BTC" },
    };
    expect(ruleFromForm(form, CONDITIONS).action).toEqual({
      type: "apply_suggestion", auto: true,
      params: { strategy: "SMA_Crossover", params: { fast: 10, slow: 30 }, coin: "BTC" } });
    expect(ruleFromForm({ ...form, actionType: "set_quantity", actionParams: { quantity: "0.5" } }, CONDITIONS).action)
      .toEqual({ type: "set_quantity", auto: true, params: { quantity: 0.5 } });
  });

  it("a pause's close_positions goes form -> JSON -> form, ticked or not, and is left out when not set", () => {
    const form = {
      ...emptyForm(CONDITIONS), name: "x", params: { level: "1", direction: "up" },
      actionType: "pause_all" as const, auto: true, actionParams: { close_positions: "true" },
    };
    const closes = ruleFromForm(form, CONDITIONS);
    expect(closes.action).toEqual({ type: "pause_all", auto: true, params: { close_positions: true } });
    expect(formFromRule({ ...closes, id: "x" }, CONDITIONS).actionParams).toEqual({ close_positions: "true" });
    const pauses = ruleFromForm({ ...form, actionParams: { close_positions: "false" } }, CONDITIONS);
    expect(pauses.action?.params).toEqual({ close_positions: false });
    expect(formFromRule({ ...pauses, id: "x" }, CONDITIONS).actionParams).toEqual({ close_positions: "false" });
    expect(ruleFromForm({ ...form, actionParams: {} }, CONDITIONS).action?.params).toEqual({});
    expect(validateForm(form, CONDITIONS)).toEqual({});
  });

  it("editing a rule keeps its close_positions, and params the form has no field for", () => {
    const kill: Rule = {
      ...RULE, action: { type: "pause_strategy", auto: true,
                         params: { strategy_id: "BTC_SMA", close_positions: true, future: "kept" } },
    };
    const form = formFromRule(kill, CONDITIONS);
    expect(form.actionParams).toEqual({ strategy_id: "BTC_SMA", close_positions: "true" });
    expect(ruleFromForm(form, CONDITIONS)).toEqual(kill);
    const renamed = ruleFromForm({ ...form, name: "Kill switch" }, CONDITIONS);
    expect(renamed.action).toEqual(kill.action);
    // unticked in the form: written false, the unknown param still kept
    expect(ruleFromForm({ ...form, actionParams: { ...form.actionParams, close_positions: "false" } }, CONDITIONS)
      .action?.params).toEqual({ strategy_id: "BTC_SMA", close_positions: false, future: "kept" });
    // another action type starts empty: a pause's params do not follow it
    const other = withActionType(form, "close_position");
    expect(ruleFromForm(other, CONDITIONS).action).toEqual({ type: "close_position", auto: true, params: {} });
    expect(withActionType(form, "pause_strategy")).toBe(form);
  });

  it("expiry is read and written as UTC", () => {
    expect(expiresSeconds("2026-12-31T23:59")).toBe(Date.UTC(2026, 11, 31, 23, 59) / 1000);
    expect(expiresText(Date.UTC(2026, 11, 31, 23, 59) / 1000)).toBe("2026-12-31T23:59");
    expect(expiresSeconds("tomorrow")).toBeNaN();
  });
});

describe("validation mirror", () => {
  const base = { ...emptyForm(CONDITIONS), name: "ok", params: { level: "70000", direction: "up" } };

  it("passes a complete form", () => {
    expect(validateForm(base, CONDITIONS)).toEqual({});
  });

  it("names each field's problem", () => {
    const rsi = { ...withType(base, "rsi", CONDITIONS), name: " " };
    const problems = validateForm({
      ...rsi, id: "bad id!", params: { ...rsi.params, period: "1.5", above: "120", below: "" },
      scopeValue: "", frequency: "every_time", cooldown: "-1", expires: "soon", message: "{nope}",
      actionType: "set_quantity", actionParams: { quantity: "0" },
    }, CONDITIONS);
    expect(problems).toEqual({
      name: "give the rule a name",
      id: "an id is 1 to 64 letters, digits, _ . or -",
      "param:period": "period must be a whole number",
      "param:above": "above must be at most 100",
      scope: "name the coin (BTC)",
      cooldown: "the cooldown is seconds, 0 or more",
      expires: "not a date and time",
      message: expect.stringMatching(/^the message has an unknown placeholder \{nope\}/),
      "action:quantity": "quantity must be a number above 0",
    });
  });

  it("checks bounds from below and text in a number field", () => {
    const rsi = withType(base, "rsi", CONDITIONS);
    expect(validateForm({ ...rsi, params: { ...rsi.params, period: "1", below: "30" } }, CONDITIONS))
      .toEqual({ "param:period": "period must be at least 2" });
    expect(validateForm({ ...base, params: { level: "high", direction: "up" } }, CONDITIONS))
      .toEqual({ "param:level": "level must be a number" });
    expect(validateForm({ ...base, params: { level: "0", direction: "up" } }, CONDITIONS))
      .toEqual({ "param:level": "level must be above 0" });
  });

  it("asks for a parameter without a default, and exactly one of a one-of group", () => {
    expect(validateForm({ ...base, params: { level: "", direction: "up" } }, CONDITIONS))
      .toEqual({ "param:level": "level is needed" });
    const rsi = withType(base, "rsi", CONDITIONS);
    expect(validateForm(rsi, CONDITIONS)).toEqual({ "param:above": "give above or below" });
    expect(validateForm({ ...rsi, params: { ...rsi.params, above: "70", below: "30" } }, CONDITIONS))
      .toEqual({ "param:below": "give only one of above or below" });
    expect(validateForm({ ...rsi, params: { ...rsi.params, below: "30" } }, CONDITIONS)).toEqual({});
  });

  it("keeps the scope within the condition's scopes", () => {
    const health = withType({ ...base, scopeKind: "coin" }, "strategy_error", CONDITIONS);
    expect(health.scopeKind).toBe("strategy");
    expect(health.scopeValue).toBe(""); // BTC is a coin, not a strategy id
    expect(validateForm({ ...health, scopeKind: "coin" }, CONDITIONS))
      .toEqual({ scope: "a strategy_error rule watches a strategy or all" });
  });

  it("reads apply_suggestion's parameters as name=value pairs", () => {
    expect(parseParamsText("fast=10, slow=30 exit=false")).toEqual({ fast: 10, slow: 30, exit: false });
    expect(parseParamsText("fast 10")).toBe('"fast" is not name=value');
  });
});

describe("rules file", () => {
  it("reads {rules: [...]} or a list, and says what else it got", () => {
    expect(rulesInFile('{"rules": [{"name": "a"}]}')).toEqual([{ name: "a" }]);
    expect(rulesInFile('[{"name": "a"}, {"name": "b"}]')).toHaveLength(2);
    expect(rulesInFile('{"name": "a"}')).toBe('not a rules file: expected {"rules": [...]} or a list of rules');
    expect(rulesInFile("{oops")).toMatch(/^not a rules file: /);
  });
});

describe("levelText", () => {
  it("writes a level as the alert messages do", () => {
    expect(levelText(70000)).toBe("70,000");
    expect(levelText(70012.5)).toBe("70,012.50");
    expect(levelText(0.5)).toBe("0.5");
    expect(levelText(0.000123456789)).toBe("0.000123457");
    expect(levelText(null)).toBe("—");
  });
});
