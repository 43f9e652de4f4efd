"""Binance's public REST API as one client, for the live feed's backfill and the history download.

The protocol's rules live here once. Answers are JSON. A request Binance refuses gets a 4xx with
``{"code": -1121, "msg": "Invalid symbol."}``. A 429 asks the caller to slow down and a 418 says
the address is banned; both name a ``Retry-After`` in seconds. Every answer reports the request
weight this address has used in the current clock minute (``X-MBX-USED-WEIGHT-1M``), against a
per-minute limit that exchangeInfo names.

What a caller puts up with (the longest wait, how many refusals and retries) is its
:class:`Patience`. How it waits is its own function: a live feed must be able to stop in the
middle of a wait, and a download shows why it pauses. Errors are :class:`BinanceError`s, which
are :class:`FeedError`s, so whatever catches a failing feed catches them; their fields let a
caller say what to do in its own words.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from velocitas_desktop.feeds.base import FeedError
from velocitas_desktop.feeds.endpoints import BINANCE_REST_URL

__all__ = [
    "BINANCE_REST_URL",
    "KLINE_INTERVALS",
    "BadAddress",
    "BinanceBadAnswer",
    "BinanceError",
    "BinanceRateLimited",
    "BinanceRefused",
    "BinanceRest",
    "BinanceUnreachable",
    "Patience",
    "UnknownSymbolError",
    "check_base_url",
]

# Binance's kline intervals, shortest first; their lengths are core.types.INTERVAL_SECONDS.
KLINE_INTERVALS: tuple[str, ...] = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h",
                                    "8h", "12h", "1d", "3d", "1w", "1M")
MAX_KLINES = 1000            # Binance's most klines per request
KLINES_WEIGHT = 2            # request weight of one /api/v3/klines call
INVALID_SYMBOL = -1121       # Binance's error code for a market it does not list
DEFAULT_WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT per minute when exchangeInfo does not say
WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
MINUTE_MS = 60_000

Wait = Callable[[float, str], bool]
"""Wait ``seconds`` (``note`` says why); False when the caller stopped during the wait."""


# --- errors ----------------------------------------------------------------------------------


class BinanceError(FeedError):
    """Binance gave no usable answer; the message says why."""


class BadAddress(BinanceError, ValueError):
    """A base URL that cannot be an exchange's address: wrong scheme, or no host. Refused at
    once: retrying it (as a network failure) only made the user wait 31 s for exit 1."""


def check_base_url(url: str, schemes: tuple[str, ...] = ("https", "http"),
                   example: str = BINANCE_REST_URL) -> str:
    """``url`` without a trailing slash if it is ``scheme://host[:port][/path]`` with one of
    ``schemes``; BadAddress saying what an address looks like if not."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        scheme, host, _port = parts.scheme.lower(), parts.hostname, parts.port  # port: a number
    except ValueError:
        scheme, host = "", None
    if scheme not in schemes or not host or any(c.isspace() for c in text):
        raise BadAddress(f"{url!r} is not an address of the form {schemes[0]}://host[:port]; "
                         f"give one like {example}")
    return text.rstrip("/")


class BinanceUnreachable(BinanceError):
    """No answer at all: the connection was refused, broke, or timed out."""

    def __init__(self, url: str, detail: str, kind: str, timeout: float | None = None) -> None:
        self.url = url
        self.detail = detail      # the network library's message, often empty
        self.kind = kind          # its exception's name
        self.timeout = timeout    # the timeout that ran out, if that was the trouble
        if timeout is not None:
            text = f"Binance at {url} did not answer within {timeout:g} s"
        else:
            text = f"cannot reach Binance at {url}: {detail}"
        super().__init__(f"{text}; check the address and your connection")

    def __reduce__(self) -> tuple[Any, ...]:  # the engine's process pickles errors
        return (type(self), (self.url, self.detail, self.kind, self.timeout))


class BinanceRateLimited(BinanceError):
    """A 429 (slow down) or 418 (this address is banned) that the caller would not wait out."""

    def __init__(self, status: int, retry_after: float) -> None:
        self.status = status
        self.retry_after = retry_after
        what = "banned this address" if self.banned else "is rate-limiting this address"
        super().__init__(f"Binance {what} (HTTP {status}, retry after {retry_after:g} s); "
                         "try again later")

    @property
    def banned(self) -> bool:
        return self.status == 418

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.retry_after))


class BinanceBadAnswer(BinanceError):
    """An answer that is not JSON: not a Binance REST API, or an error page in front of one."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"Binance answered {status} with a body that is not JSON")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status,))


class BinanceRefused(BinanceError):
    """An error status. ``code`` and ``reason`` are Binance's own when its error body came
    with it; a 5xx means Binance's own trouble, not the request's."""

    def __init__(self, status: int, code: int | None, reason: str | None) -> None:
        self.status = status
        self.code = code
        self.reason = reason
        if code is not None:
            super().__init__(f"Binance refused the request: {reason} (code {code})")
        else:
            super().__init__(f"Binance answered HTTP {status}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.code, self.reason))


class UnknownSymbolError(BinanceRefused):
    """Binance lists no such market (its error -1121, "Invalid symbol")."""


def _refusal(status: int, body: object) -> BinanceRefused:
    """The error for an error ``status`` whose JSON body is ``body``."""
    if isinstance(body, dict) and "code" in body:
        code, reason = body.get("code"), str(body.get("msg"))
        kind = UnknownSymbolError if code == INVALID_SYMBOL else BinanceRefused
        return kind(status, code, reason)
    return BinanceRefused(status, None, None)


# --- the client ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Patience:
    """How much trouble a caller waits out before it gives up."""

    max_wait: float = 60.0   # seconds: the longest Retry-After worth waiting for
    refusals: int = 2        # 429/418 answers waited out for one request
    retries: int = 0         # network failures and 5xx answers retried, 2, 4, 8... s apart
    # seconds one request may spend on network failures and 5xx answers, its failed attempts
    # and the pauses between them together; the last pause is shortened to fit (None: only
    # ``retries`` counts)
    retry_seconds: float | None = None


def _sleep(seconds: float, note: str) -> bool:
    time.sleep(seconds)
    return True


class BinanceRest:
    """GETs to Binance's REST API at ``base_url``, within the caller's ``patience``.

    Counts the ``requests`` it sends and keeps the request weight the exchange reports as used
    (``used_weight``) and allows (``weight_limit``, from exchangeInfo). Close it after use.
    """

    def __init__(self, base_url: str = BINANCE_REST_URL, *, timeout: float = 10.0,
                 patience: Patience | None = None, wait: Wait = _sleep) -> None:
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self.patience = patience or Patience()
        self._wait = wait
        self.weight_limit = DEFAULT_WEIGHT_LIMIT
        self.used_weight = 0
        self.requests = 0
        self._client = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout))

    def __enter__(self) -> BinanceRest:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """The JSON answer to one GET. Waits out 429/418 answers for as long as Retry-After
        asks, and retries network failures and 5xx answers, as far as the patience goes."""
        refusals = failures = 0
        trouble = 0.0  # seconds spent on this request's failed attempts and pauses
        while True:
            self.requests += 1
            began = time.monotonic()
            try:
                response = self._client.get(path, params=params or {})
            except httpx.HTTPError as exc:
                failures += 1
                trouble += time.monotonic() - began
                pause = self._retry_pause(failures, trouble)
                if (pause is None
                        or not self._wait(pause, f"no answer from Binance; retrying in "
                                                 f"{pause:.0f} s")):
                    raise self._unreachable(exc) from None
                trouble += pause
                continue
            self._read_weight(response)
            status = response.status_code
            if status in (429, 418):
                refusals += 1
                limited = BinanceRateLimited(status, _retry_after(response))
                if (refusals > self.patience.refusals
                        or limited.retry_after > self.patience.max_wait
                        or not self._wait(limited.retry_after, _refusal_note(limited))):
                    raise limited
                continue
            if status >= 500:
                trouble += time.monotonic() - began
                pause = self._retry_pause(failures + 1, trouble)
                if pause is not None:
                    failures += 1
                    if self._wait(pause, f"Binance answered HTTP {status}; retrying"):
                        trouble += pause
                        continue
            return _json_of(response)

    def _retry_pause(self, failures: int, trouble: float) -> float | None:
        """The pause before retrying the ``failures``-th failure (2, 4, 8... s, the last one
        cut to what the budget has left), or None when the patience is spent."""
        if failures > self.patience.retries:
            return None
        pause = 2.0 ** failures
        budget = self.patience.retry_seconds
        if budget is not None:
            left = budget - trouble
            if left <= 0:
                return None
            pause = min(pause, left)
        return pause

    def server_time_ms(self) -> int:
        """The exchange's clock in epoch ms (ours if its answer has none): it, not ours,
        decides which kline is still open and when the weight count resets."""
        answer = self.get("/api/v3/time")
        now = answer.get("serverTime") if isinstance(answer, dict) else None
        if isinstance(now, int | float) and not isinstance(now, bool):
            return int(now)
        return time.time_ns() // 1_000_000

    def exchange_info(self, symbol: str) -> Any:
        """exchangeInfo for ``symbol`` (UnknownSymbolError if Binance lists no such market);
        the per-minute weight limit it names becomes ``weight_limit``."""
        info = self.get("/api/v3/exchangeInfo", {"symbol": symbol})
        for limit in info.get("rateLimits", []) if isinstance(info, dict) else []:
            if (limit.get("rateLimitType") == "REQUEST_WEIGHT" and limit.get("interval")
                    == "MINUTE" and limit.get("intervalNum") == 1):
                self.weight_limit = int(limit.get("limit", DEFAULT_WEIGHT_LIMIT))
        return info

    def pace(self, weight: int, headroom: float) -> None:
        """Wait for the next weight window if a request of ``weight`` would pass the
        ``1 - headroom`` share of the limit, so the pace never earns a 429 of its own.

        The count resets when the exchange's clock minute turns, so the wait runs to then,
        by the exchange's clock (one /time request, which also refreshes the count).
        """
        budget = int(self.weight_limit * (1.0 - headroom))
        while self.used_weight + weight > budget:
            used = self.used_weight
            now_ms = self.server_time_ms()
            if self.used_weight < used:
                break  # the minute turned meanwhile
            remaining = (MINUTE_MS - now_ms % MINUTE_MS) / 1000 + 0.05
            if not self._wait(remaining, f"pausing {remaining:.0f} s: {self.used_weight} of "
                                         f"Binance's {self.weight_limit} request weight per "
                                         "minute used"):
                return
            self.used_weight = 0  # a new minute: the next answer says the true count

    def _read_weight(self, response: httpx.Response) -> None:
        header = response.headers.get(WEIGHT_HEADER)
        if header is not None:
            with contextlib.suppress(ValueError):
                self.used_weight = int(header)

    def _unreachable(self, exc: httpx.HTTPError) -> BinanceUnreachable:
        timed_out = isinstance(exc, httpx.TimeoutException)
        return BinanceUnreachable(self.base_url, str(exc), type(exc).__name__,
                                  self.timeout if timed_out else None)


def _json_of(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        raise BinanceBadAnswer(response.status_code) from None
    if response.status_code >= 400:
        raise _refusal(response.status_code, body)
    return body


def _retry_after(response: httpx.Response) -> float:
    """Seconds Binance asks us to wait (Retry-After); 1 s when it does not say."""
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _refusal_note(limited: BinanceRateLimited) -> str:
    what = "banned this address" if limited.banned else "asked us to slow down"
    return f"Binance {what} (HTTP {limited.status}); waiting {limited.retry_after:.0f} s"
