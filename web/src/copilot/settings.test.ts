import { describe, expect, it } from "vitest";
import { testOutcome, webhookBody } from "./SettingsPanel";

describe("webhookBody", () => {
  it("trims the URL and sends a chat id only for Telegram", () => {
    expect(webhookBody({ url: " https://x.example/h ", format: "slack", min_severity: "info", enabled: true, chat_id: "9" }))
      .toEqual({ url: "https://x.example/h", format: "slack", min_severity: "info", enabled: true });
    expect(webhookBody({ url: "https://api.telegram.org/botT/sendMessage", format: "telegram", min_severity: "warning",
      enabled: true, chat_id: " -100 " }))
      .toEqual({ url: "https://api.telegram.org/botT/sendMessage", format: "telegram", min_severity: "warning",
        enabled: true, chat_id: "-100" });
  });

  it("sends an empty chat id for a Telegram webhook without one, for the API to name", () => {
    expect(webhookBody({ url: "https://t.example", format: "telegram", min_severity: "info", enabled: false }).chat_id)
      .toBe("");
  });
});

describe("testOutcome", () => {
  it("says where a test message went and how long it took, or why it did not arrive", () => {
    expect(testOutcome({ delivered: true, error: null, url: "https://x.example/h", format: "discord", elapsed_ms: 231.6 }))
      .toBe("Test message delivered to https://x.example/h (discord, 232 ms).");
    expect(testOutcome({ delivered: false, error: "HTTP 404: not found", url: "https://x.example/h", format: "json",
      elapsed_ms: 12 }))
      .toBe("Test message not delivered to https://x.example/h: HTTP 404: not found");
  });
});
