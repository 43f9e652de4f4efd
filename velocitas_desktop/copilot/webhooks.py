"""Webhooks: the settings a trader gives, the body each service expects, one POST and its
outcome, and the retry schedule.

Formats: ``json`` (the alert as it is, for a script), ``discord`` (``content`` + an embed),
``slack`` (``text`` + blocks) and ``telegram`` (``chat_id`` + ``text``, posted to the bot's
``https://api.telegram.org/bot<token>/sendMessage`` URL). Every POST carries the delivery's
key in ``Idempotency-Key`` and ``X-Velocitas-Dedup-Key``; the json body carries it too, and the
Discord and Slack bodies show it in small print, so a receiver can drop a repeat.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from velocitas_desktop import __version__
from velocitas_desktop.copilot.rules import SEVERITIES, RuleError

FORMATS = ("json", "discord", "slack", "telegram")
CONNECT_TIMEOUT = 3.0    # seconds to open the connection
READ_TIMEOUT = 5.0       # seconds for the answer (and to send the body)
# Attempt n (1-based) that fails is followed by a pause of FIRST_PAUSE * 2**(n-1) seconds,
# capped at LAST_PAUSE, plus up to JITTER of it at random (so many alerts failing together
# do not all come back in the same second): 1, 2, 4, 8, 16, 32, 60 s. After MAX_ATTEMPTS the
# delivery is failed: about two minutes of outage are ridden out.
FIRST_PAUSE = 1.0
LAST_PAUSE = 60.0
JITTER = 0.1
MAX_ATTEMPTS = 8
MAX_RETRY_AFTER = 600.0  # a 429's Retry-After is honoured up to ten minutes
USER_AGENT = f"velocitas/{__version__}"

_COLOURS = {"info": 0x3498DB, "warning": 0xF1C40F, "critical": 0xE74C3C}
_MARKS = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}


class WebhookError(RuleError):
    """A webhook or heartbeat setting cannot be used; the message says which and why (a
    RuleError, so every surface answers it as it answers a bad rule)."""


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook of the settings, checked."""

    url: str
    format: str = "json"
    min_severity: str = "info"
    enabled: bool = True
    chat_id: str | None = None      # telegram only

    @classmethod
    def from_json(cls, data: Mapping[str, Any], where: str = "webhook") -> Webhook:
        if not isinstance(data, Mapping):
            raise WebhookError(f"{where}: expected an object with url and format")
        url = check_url(data.get("url"), f"{where}.url")
        fmt = data.get("format", "json")
        if fmt not in FORMATS:
            raise WebhookError(f"{where}.format: {fmt!r} is not one of {', '.join(FORMATS)}")
        severity = data.get("min_severity", "info")
        if severity not in SEVERITIES:
            raise WebhookError(f"{where}.min_severity: {severity!r} is not one of "
                               f"{', '.join(SEVERITIES)}")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise WebhookError(f"{where}.enabled: expected true or false, got {enabled!r}")
        chat_id = data.get("chat_id")
        if fmt == "telegram":
            if chat_id is None or str(chat_id).strip() == "":
                raise WebhookError(f"{where}.chat_id: a telegram webhook needs the chat id "
                                   "the bot posts to (the URL is the bot's sendMessage URL)")
            chat_id = str(chat_id).strip()
        elif chat_id is not None:
            raise WebhookError(f"{where}.chat_id: only a telegram webhook takes a chat id")
        return cls(url, fmt, severity, enabled, chat_id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "format": self.format,
                               "min_severity": self.min_severity, "enabled": self.enabled}
        if self.chat_id is not None:
            out["chat_id"] = self.chat_id
        return out

    def wants(self, severity: str) -> bool:
        """Whether an alert of ``severity`` reaches this webhook."""
        rank = SEVERITIES.index(severity) if severity in SEVERITIES else 0
        return self.enabled and rank >= SEVERITIES.index(self.min_severity)

    @property
    def target(self) -> str:
        """What one delivery is addressed to: the URL, and the chat for telegram."""
        return self.url if self.chat_id is None else f"{self.url}#chat={self.chat_id}"


def check_url(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise WebhookError(f"{where}: expected an http:// or https:// URL")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"{where}: {url!r} is not an http:// or https:// URL with a host")
    return url


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``webhooks`` and ``heartbeat`` parts of the copilot settings, checked and filled
    with their defaults; WebhookError names the first bad field."""
    hooks = settings.get("webhooks") or []
    if not isinstance(hooks, list):
        raise WebhookError("webhooks: expected a list of {url, format, min_severity, enabled}")
    beat = settings.get("heartbeat") or {}
    if not isinstance(beat, Mapping):
        raise WebhookError("heartbeat: expected {url, interval_s}")
    url = beat.get("url")
    interval = beat.get("interval_s", 60)
    if isinstance(interval, bool) or not isinstance(interval, int | float) \
            or not 5 <= interval <= 86_400:
        raise WebhookError(f"heartbeat.interval_s: {interval!r} is not a number of seconds "
                           "from 5 to 86400")
    return {"webhooks": [Webhook.from_json(h, f"webhooks[{i}]").to_json()
                         for i, h in enumerate(hooks)],
            "heartbeat": {"url": None if url in (None, "") else
                          check_url(url, "heartbeat.url"), "interval_s": interval}}


def dedup_key(alert: Mapping[str, Any], target: str) -> str:
    """The delivery's key: the alert's own key and time, and the target's hash. The time is
    in it because alert ids start again at 1 in an engine that keeps no journal."""
    stamp = round(float(alert.get("time") or 0.0) * 1000)
    own = alert.get("dedup_key") or f"{alert.get('rule_id')}:{alert.get('id')}"
    return f"{own}@{stamp}/{hashlib.sha256(target.encode()).hexdigest()[:12]}"


def render(format: str, alert: Mapping[str, Any], *, chat_id: str | None = None,
           key: str | None = None) -> dict[str, Any]:
    """The JSON body of ``alert`` for a webhook of ``format``."""
    if format == "json":
        return {**alert, "app": "velocitas", "dedup_key": key or alert.get("dedup_key")}
    title = _title(alert)
    message = str(alert.get("message", ""))
    if format == "discord":
        embed: dict[str, Any] = {"title": _clip(title, 256), "description": _clip(message, 4096),
                                 "color": _COLOURS.get(alert.get("severity"), _COLOURS["info"]),
                                 "fields": _fields(alert, inline=True)}
        if alert.get("time"):
            embed["timestamp"] = _iso(alert["time"])
        if key:
            embed["footer"] = {"text": f"key {key}"}
        return {"content": _clip(f"{title}: {message}", 2000), "embeds": [embed]}
    if format == "slack":
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": _clip(f"*{title}*\n{message}", 3000)}}]
        facts = _fields(alert, inline=False)
        if facts:
            blocks.append({"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*{f['name']}*\n{f['value']}"} for f in facts]})
        if key:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                            "text": f"key {key}"}]})
        return {"text": f"{title}: {message}", "blocks": blocks}
    if format == "telegram":
        lines = [title, message]
        lines += [f"{f['name']}: {f['value']}" for f in _fields(alert, inline=False)]
        return {"chat_id": chat_id, "text": _clip("\n".join(lines), 4096),
                "disable_web_page_preview": True}
    raise WebhookError(f"format: {format!r} is not one of {', '.join(FORMATS)}")


def _clip(text: str, limit: int) -> str:
    """``text`` within a service's limit (Discord refuses a longer content, Slack a longer
    block, Telegram a longer message), marked where it was cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _title(alert: Mapping[str, Any]) -> str:
    severity = str(alert.get("severity", "info"))
    name = alert.get("rule_name") or alert.get("rule_id") or "alert"
    throttled = " (throttled)" if alert.get("throttled") else ""
    return f"{_MARKS.get(severity, '')} {severity.upper()}: {name}{throttled}".strip()


def _fields(alert: Mapping[str, Any], inline: bool) -> list[dict[str, Any]]:
    """The alert's figures as (name, value) fields; Discord's also say ``inline``."""
    shown = [(name, _shown(alert.get(key))) for name, key in (
        ("Coin", "coin"), ("Strategy", "strategy_id"), ("Price", "price"), ("Value", "value"),
        ("Threshold", "threshold")) if alert.get(key) is not None]
    if alert.get("time"):
        shown.append(("Time", _iso(alert["time"])))
    return [{"name": name, "value": value, **({"inline": True} if inline else {})}
            for name, value in shown]


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.8g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST came to: delivered, or the error, whether trying again can help, and how
    long the receiver asked us to wait (a 429's Retry-After)."""

    delivered: bool
    error: str | None = None
    retryable: bool = True
    retry_after: float | None = None


def timeouts(connect: float = CONNECT_TIMEOUT, read: float = READ_TIMEOUT) -> httpx.Timeout:
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def post(client: httpx.Client, url: str, body: Mapping[str, Any], key: str | None) -> Outcome:
    """POST ``body`` as JSON; never raises for the network or the answer."""
    headers = {"User-Agent": USER_AGENT}
    if key:
        headers["Idempotency-Key"] = key
        headers["X-Velocitas-Dedup-Key"] = key
    try:
        response = client.post(url, json=dict(body), headers=headers)
    except httpx.TimeoutException as exc:
        return Outcome(False, f"timed out ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}" if str(exc)
                       else type(exc).__name__)
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True)
    reason = f"HTTP {status}: {response.text[:200]}".rstrip(": ")
    if status == 429:
        return Outcome(False, reason, True, retry_after(response))
    # 408 and 5xx may pass on a later try; any other answer (a 404, a 401...) will not:
    # the URL or the token is wrong, and the trader is told at once
    return Outcome(False, reason, status == 408 or status >= 500)


TEST_RULE = "velocitas-test"   # the rule id a test message names (no rule of the trader's)


def alert_for_test(now: float) -> dict[str, Any]:
    """The alert a test message carries: plainly a test, in an alert's shape, so the
    receiver shows it as it will show the real ones."""
    return {"id": 0, "rule_id": TEST_RULE, "rule_name": "Velocitas test message",
            "severity": "info", "time": now, "tick_time": now, "coin": None,
            "strategy_id": None, "price": None, "value": None, "threshold": None,
            "message": "This is a test message from Velocitas: alerts will arrive here.",
            "acknowledged": False, "action_id": None, "throttled": False, "test": True}


def send_test(data: Mapping[str, Any], timeout: httpx.Timeout | None = None) -> dict[str, Any]:
    """POST one test message to the webhook ``data`` describes (saved or not, enabled or
    not) in its format, once, with the deliveries' timeouts, and say what came of it:
    {delivered, error, url, format, elapsed_ms}. WebhookError for settings that cannot be
    used. Nothing is recorded: the outbox is for alerts."""
    hook = Webhook.from_json(data)
    alert = alert_for_test(time.time())
    key = dedup_key(alert, hook.target)
    body = render(hook.format, alert, chat_id=hook.chat_id, key=key)
    began = time.perf_counter()
    with httpx.Client(timeout=timeout or timeouts(), follow_redirects=False) as client:
        outcome = post(client, hook.url, body, key)
    return {"delivered": outcome.delivered, "error": outcome.error, "url": hook.url,
            "format": hook.format, "elapsed_ms": round((time.perf_counter() - began) * 1000, 1)}


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429 asks for (a number or an HTTP date), at most ``MAX_RETRY_AFTER``."""
    text = response.headers.get("Retry-After")
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(text) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def pause(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): the schedule above."""
    base = min(LAST_PAUSE, FIRST_PAUSE * 2.0 ** (attempt - 1))
    return base * (1.0 + JITTER * (rng or random).random())
