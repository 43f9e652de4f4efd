import { describe, expect, it } from "vitest";
import { olderQuery, toCsv } from "./history";
import type { Alert } from "./types";

describe("history", () => {
  it("writes CSV fields quoted only when they need it, objects as JSON", () => {
    const rows = [{ id: 1, message: 'BTC crossed 70,000 "up"', params: { strategy_id: "A" }, result: null }];
    expect(toCsv(rows, ["id", "message", "params", "result"])).toBe(
      'id,message,params,result\r\n1,"BTC crossed 70,000 ""up""","{""strategy_id"":""A""}",\r\n');
  });

  it("pages alerts before the oldest held, with the severity chosen", () => {
    const held = [{ id: 40 }, { id: 12 }, { id: 33 }] as Alert[];
    expect(olderQuery(held, "critical")).toEqual({ limit: 100, before_id: 12, severity: "critical" });
    expect(olderQuery([], "")).toEqual({ limit: 100 });
  });
});
