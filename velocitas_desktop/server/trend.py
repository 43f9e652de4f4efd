"""REST routes of the trend analysis mode: analyse a named or uploaded bar file as a job (with
strategy suggestions), poll it, cancel it; and the live engine's report of a coin. The work
runs in research/trend_jobs.py; the schemas below are the report's documented contract."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from velocitas_desktop.research.optimize import JobStatus
from velocitas_desktop.research.trend_jobs import MAX_CANDLES, TrendRequest, TrendService
from velocitas_desktop.server.validation import describe_validation

router = APIRouter(prefix="/api/trend", tags=["trend"])
MAX_UPLOAD = 200_000_000  # bytes: a few million bars of history, as an optimisation's upload
ANALYZE_PATH = "/api/trend/analyze"
UPLOAD_PATH = "/api/trend/analyze/upload"
UPLOAD_NAME = "upload.csv"  # an upload's name when its form part has none
MAX_WAIT = 60.0  # seconds a request may wait for its job's end before the reply
JobId = Path(min_length=1, max_length=40, description="e.g. trend-1")
Coin = Path(min_length=1, max_length=20, description="e.g. BTC")
Timeframe = Annotated[str, Field(min_length=1, max_length=8, examples=["4h"])]


# --- requests ----------------------------------------------------------------------------

class TrendOptionsIn(BaseModel):
    """What to analyse, without the file: the upload's ``request`` form field."""

    model_config = ConfigDict(extra="forbid")

    timeframes: list[Timeframe] | None = Field(
        None, max_length=8, examples=[["1h", "4h", "1d"]],
        description="timeframes to analyse (15m, 1h, 4h, 1d, 1w...), each a multiple of the "
                    "file's interval; null: the file's own and up to three coarser ones")
    suggest: bool = Field(True, description="also search the catalogue's strategies walk-"
                                            "forward for the ones that fitted out of sample")
    suggest_bars: int = Field(100_000, ge=100, le=1_000_000,
                              description="the most recent bars the suggestions search on")
    folds: int = Field(4, ge=1, le=20, description="walk-forward folds of the suggestions")
    coin: str | None = Field(None, min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$",
                             examples=["BTC"], description="the coin the bars are, if known")
    candles: int = Field(0, ge=0, le=MAX_CANDLES, description="each timeframe's last N bars "
                                                              "in the report, for a chart")
    wait: float = Field(0.0, ge=0, le=MAX_WAIT,
                        description="seconds to wait for the job's end before answering "
                                    "(its report is then in the reply)")
    workers: int | None = Field(
        None, ge=0, le=64, description="worker processes of the suggestions, at most the "
                                       "server's cores (422 above); null: one per core; 0: "
                                       "one background thread")

    def to_request(self) -> TrendRequest:
        return TrendRequest(timeframes=tuple(self.timeframes) if self.timeframes else None,
                            suggest=self.suggest, suggest_bars=self.suggest_bars,
                            folds=self.folds, coin=self.coin.upper() if self.coin else None,
                            candles=self.candles, workers=self.workers)


class TrendIn(TrendOptionsIn):
    """An analysis of a data file by name (see GET /api/optimization/data-files)."""

    data_file: str = Field(min_length=1, max_length=130, examples=["BTCUSD-1h-sample.csv"])


# --- the report (research/trend.py's TrendReport.to_json, docs/trend.md) ------------------

class _Open(BaseModel):
    # a figure the analyser adds later reaches the caller instead of being dropped
    model_config = ConfigDict(extra="allow")


class AdxOut(_Open):
    period: int
    adx: float | None
    plus_di: float | None
    minus_di: float | None


class RegressionOut(_Open):
    bars: int
    slope_pct_per_bar: float | None
    t_stat: float | None
    r2: float | None
    trend_noise: float | None = Field(None, description="the fit's rise or fall over the "
                                                        "bars in random-walk moves")


class CrossOut(_Open):
    kind: Literal["golden", "death"]
    time: float
    bars_ago: int
    fast: int
    slow: int


class MovingAveragesOut(_Open):
    periods: list[int]
    values: list[float | None] = Field(description="null where the timeframe is too short")
    alignment: Literal["bullish", "bearish", "mixed"]
    last_cross: CrossOut | None


class VolatilityOut(_Open):
    regime: Literal["calm", "normal", "high", "extreme"]
    atr_pct: float | None = Field(description="ATR as % of the close")
    atr_percentile: float | None
    realised_vol: float | None = Field(description="annualised, a fraction")
    realised_vol_percentile: float | None
    window: int


class CharacterOut(_Open):
    label: Literal["trending", "mean_reverting", "random"]
    hurst: float | None
    variance_ratio: float | None
    lag: int
    z: float | None
    p_value: float | None
    confidence: float
    bars: int


class LevelOut(_Open):
    kind: Literal["support", "resistance"]
    price: float
    low: float
    high: float
    touches: int
    last_touch: float
    distance_pct: float


class BreakoutOut(_Open):
    time: float
    direction: Literal["up", "down"]
    level: float
    close: float


class TrendLineOut(_Open):
    time: list[float]
    price: list[float]
    channel_pct: float | None


class CandlesOut(_Open):
    time: list[float]
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]


class TimeframeOut(_Open):
    """One timeframe's figures; with ``ok`` false only timeframe, seconds, bars, ok, message
    (why) and summary."""

    timeframe: str
    seconds: float
    bars: int
    ok: bool
    message: str
    time: float | None = Field(None, description="open time of the last bar analysed")
    direction: Literal["up", "down", "sideways"] | None = None
    strength: Literal["weak", "moderate", "strong"] | None = None
    adx: AdxOut | None = None
    regression: RegressionOut | None = None
    moving_averages: MovingAveragesOut | None = None
    volatility: VolatilityOut | None = None
    character: CharacterOut | None = None
    levels: list[LevelOut] | None = Field(None, description="nearest first, at most 8")
    breakouts: list[BreakoutOut] | None = Field(None, description="newest first, at most 5")
    trend_line: TrendLineOut | None = None
    summary: str
    candles: CandlesOut | None = Field(None, description="the last N bars, with candles=N")


class HoldOut(_Open):
    """Buying at the first close and selling at the last, each leg paying the fee."""

    return_pct: float | None = Field(description="over all the bars searched")
    oos_return_pct: float | None = Field(description="over the out-of-sample windows, "
                                                     "compounded")
    fees: float | None


class SpanOut(_Open):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    from_: float = Field(alias="from", description="first bar's open time")
    to: float = Field(description="last bar's open time")


class WindowOut(SpanOut):
    window: str
    bars: int


class FittedOut(SpanOut):
    """The window the suggested parameters were chosen on (the most recent one)."""

    bars: int
    score: float | None


class FoldOut(_Open):
    """One walk-forward step: the best parameters on one window, scored on the next."""

    fold: int
    params: dict[str, Any]
    in_sample_score: float | None
    out_of_sample_score: float | None
    oos_return_pct: float | None
    trades: int
    fees: float | None
    hold_return_pct: float | None = None
    in_sample: SpanOut | None = None
    out_of_sample: SpanOut | None = None


class SuggestionOut(_Open):
    rank: int
    strategy: str
    params: dict[str, Any] = Field(description="chosen on the most recent window: what "
                                               "Apply registers")
    timeframe: str | None = Field(description="the timeframe Apply registers it on")
    in_sample_score: float | None = Field(description="mean over the folds")
    out_of_sample_score: float | None = Field(description="mean over the folds")
    oos_return_pct: float | None = Field(description="compounded over the out-of-sample "
                                                     "windows, after fees")
    trades: int
    fees: float | None
    hold_return_pct: float | None
    beats_hold: bool
    beats_cash: bool
    folds: list[FoldOut]
    fitted_on: FittedOut | None = None
    combinations: int | None = None
    reason: str | None = Field(None, description="a rejected one: why it is no suggestion")


class LookaheadOut(_Open):
    strategy: str
    ok: bool
    message: str
    prefix_bars: int | None = None
    first_difference: int | None = None


class SkippedOut(_Open):
    strategy: str
    reason: str


class SuggestionsOut(_Open):
    """The walk-forward search's verdict: ``items`` beat holding and cash out of sample
    after fees (best first); ``verdict`` says so when none did (docs/suggestions.md)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    bars: int
    timeframe: str | None
    folds: int
    metric: str = Field(description="the metric the folds were ranked by")
    requested_metric: str | None = None
    fee: float
    from_: float | None = Field(alias="from")
    to: float | None
    windows: list[WindowOut] | None = None
    hold: HoldOut
    verdict: str
    items: list[SuggestionOut]
    rejected: list[SuggestionOut]
    skipped: list[SkippedOut] | None = None
    lookahead: list[LookaheadOut]
    warnings: list[str] | None = None
    combinations: int | None = None
    completed: int | None = None
    cancelled: bool | None = None
    elapsed_s: float


class TrendReportOut(_Open):
    """What the market in the bars is doing on each timeframe (docs/trend.md)."""

    source: str = Field(description="the file's name, or live")
    coin: str | None
    bars: int
    interval: float = Field(description="seconds per bar of the input")
    first: float = Field(description="first bar's open time, epoch seconds")
    last: float = Field(description="last bar's open time")
    price: float = Field(description="the last close")
    warnings: list[str]
    summary: list[str]
    timeframes: list[TimeframeOut] = Field(description="finest first")
    suggestions: SuggestionsOut | None = None


class TrendJobOut(BaseModel):
    job_id: str
    status: JobStatus
    done: int = Field(description="steps done: the analysis is one, each suggestion "
                                  "backtest one")
    total: int
    progress: float
    data: str = Field(description="the data file analysed")
    created: float
    error: str | None = None
    report: TrendReportOut | None = Field(
        None, description="the report once the job has ended (a cancelled job's: the "
                          "analysis, and the suggestions finished); null before, and in "
                          "the list of jobs")


# --- routes ------------------------------------------------------------------------------

def _service(request: Request) -> TrendService:
    return request.app.state.trend


async def _answer(job: Any, wait: float) -> dict[str, Any]:
    """The job's description, after waiting up to ``wait`` seconds for its end (polled, so
    no thread is held while it runs)."""
    deadline = time.monotonic() + wait
    while not job.wait(0) and time.monotonic() < deadline:
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return job.describe()


# the same path takes a file: the Guard serves its multipart POSTs by the upload route
# (with the upload's size limit), so a script may post either body to /api/trend/analyze
_UPLOAD_FORM = {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "a bar file (.csv)"},
        "request": {"type": "string", "description": "the analyze fields as JSON, without "
                                                     "data_file"}}}


@router.post(ANALYZE_PATH.removeprefix("/api/trend"), response_model=TrendJobOut,
             status_code=202, response_model_exclude_unset=True,
             summary="Analyse a data file by name, or an uploaded one (multipart, as "
                     "/api/trend/analyze/upload), and suggest strategies, as a job",
             openapi_extra={"requestBody": {"content": {
                 "multipart/form-data": {"schema": _UPLOAD_FORM}}}})
async def analyze(request: Request, body: TrendIn) -> dict[str, Any]:
    # the file is read and analysed before the reply (a bad timeframe is a 422, not a job
    # that failed); the suggestions go on in the background
    job = await run_in_threadpool(_service(request).submit, body.to_request(), body.data_file)
    return await _answer(job, body.wait)


@router.post(UPLOAD_PATH.removeprefix("/api/trend"), response_model=TrendJobOut,
             status_code=202, response_model_exclude_unset=True,
             summary="Upload a bar file and analyse it as a job")
async def analyze_upload(
        request: Request, file: Annotated[UploadFile, File(description="a bar file (.csv)")],
        options: Annotated[str, Form(alias="request", description="the analyze fields as "
                                     "JSON, without data_file")] = "{}") -> dict[str, Any]:
    # the options are checked before the file is kept; the file (spooled to a temporary
    # file by the form parser past 1 MB) is copied to the uploads folder a chunk at a time
    body = _options_from_form(options)
    job = await run_in_threadpool(_service(request).submit_upload, body.to_request(),
                                  file.filename or UPLOAD_NAME, file.file, MAX_UPLOAD)
    return await _answer(job, body.wait)


def _options_from_form(text: str) -> TrendOptionsIn:
    from velocitas_desktop.research.trend import TrendError

    try:
        fields = json.loads(text or "{}")
    except ValueError as exc:
        raise TrendError(f"the request field is not valid JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise TrendError("the request field must be a JSON object")
    try:
        return TrendOptionsIn.model_validate(fields)
    except ValidationError as exc:
        raise TrendError(describe_validation(exc.errors())) from None


@router.get("/jobs", response_model=list[TrendJobOut], response_model_exclude_unset=True,
            summary="Trend jobs, newest first (without their reports)")
def list_jobs(request: Request) -> list[dict[str, Any]]:
    return [job.describe(report=False) for job in _service(request).jobs()]


@router.get("/jobs/{job_id}", response_model=TrendJobOut, response_model_exclude_unset=True,
            summary="A job's status and progress, and its report once it has ended")
def job_status(request: Request, job_id: str = JobId) -> dict[str, Any]:
    return _service(request).get(job_id).describe()


@router.post("/jobs/{job_id}/cancel", response_model=TrendJobOut,
             response_model_exclude_unset=True,
             summary="Cancel a job's suggestions; its analysis stays in the report")
def cancel_job(request: Request, job_id: str = JobId) -> dict[str, Any]:
    return _service(request).cancel(job_id).describe()


@router.get("/{coin}", response_model=TrendReportOut, response_model_exclude_unset=True,
            summary="The live engine's trend report of a coin, from the session's bars")
async def live_trend(request: Request, coin: str = Coin,
                     candles: Annotated[int, Query(ge=0, le=MAX_CANDLES, description=(
                         "each timeframe's last N bars in the report"))] = 0) -> Any:
    engine = request.app.state.engine
    return await run_in_threadpool(engine.trend, coin.upper(), candles)


def install(app: FastAPI, service: TrendService) -> None:
    """Serve ``service`` from ``app``: the routes and the status of their errors (the job
    and upload errors share the optimisation's: 404, 409, 413)."""
    from velocitas_desktop.research.trend import TrendError

    app.state.trend = service
    app.include_router(router)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.add_exception_handler(TrendError, invalid)
