"""REST routes of the optimisation mode: submit a job on a named or uploaded bar file, poll its
progress, fetch the ranked results, cancel. The work runs in the research layer's jobs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from velocitas_desktop.research.backtest import BacktestError
from velocitas_desktop.research.jobs import (
    JobNotFound,
    JobStateError,
    OptimizationService,
    UploadTooLarge,
)
from velocitas_desktop.research.optimize import JobStatus, OptimizeError, OptimizeSettings
from velocitas_desktop.research.ranking import DEFAULT_METRIC, METRIC_KEYS
from velocitas_desktop.server.validation import describe_validation

router = APIRouter(prefix="/api/optimization", tags=["optimization"])
MAX_UPLOAD = 200_000_000  # bytes: a few million bars of history
UPLOAD_PATH = "/api/optimization/jobs/upload"
UPLOAD_NAME = "upload.csv"  # an upload's name when its form part has none
JobId = Path(min_length=1, max_length=40, description="e.g. opt-1")
Metric = Literal[METRIC_KEYS]  # type: ignore[valid-type]


class JobIn(BaseModel):
    """An optimisation on a data file by name (see GET /api/optimization/data-files)."""

    model_config = ConfigDict(extra="forbid")

    data_file: str = Field(min_length=1, max_length=130, examples=["BTCUSD-1h-sample.csv"])
    strategy: str = Field(min_length=1, max_length=100, examples=["SMA_Crossover"])
    grid: dict[str, list[float] | str] = Field(
        default_factory=dict, examples=[{"fast": "5:50:5", "slow": [20, 40, 60]}],
        description="values per parameter: a list, or 'lo:hi:step' (hi included on a step); "
                    "empty: about ten values around each parameter's default, within its "
                    "bounds (the search the window's tab starts with)")
    fixed: dict[str, float | bool] = Field(default_factory=dict)
    random: int | None = Field(None, ge=1, le=100_000, description="random search: N samples")
    seed: int | None = None
    metric: Metric = DEFAULT_METRIC  # type: ignore[valid-type]
    fee: float = Field(0.001, ge=0, lt=1)
    slippage: float = Field(0.0, ge=0, lt=1)
    in_sample: float = Field(1.0, gt=0, le=1, description="fraction of bars in sample")
    walk_forward: int = Field(0, ge=0, le=50)
    workers: int | None = Field(
        None, ge=0, le=64, description="worker processes, at most the server's cores (422 "
                                       "above); null: one per core; 0: one background thread")


class JobOut(BaseModel):
    job_id: str
    status: JobStatus
    done: int
    total: int
    progress: float
    strategy: str
    metric: str
    data: str
    created: float
    error: str | None = None


class RowTradeOut(BaseModel):
    """A fill of a row's backtest."""

    timestamp: float = Field(description="the bar's close time, epoch seconds")
    action: Literal["BUY", "SELL"]
    price: float
    quantity: float
    profit_loss: float = Field(description="realised P&L, net of both legs' fees (0 on "
                                           "opening)")
    position_size: float
    fee: float


class RowBacktestOut(BaseModel):
    """One result row backtested over the job's whole bar file: its equity curve and fills."""

    rank: int
    params: dict[str, Any]
    score: float | None = Field(description="the row's in-sample score by the job's metric")
    stats: dict[str, Any] = Field(description="the whole file's backtest statistics (final "
                                              "equity = cash + net_pnl + unrealized_pnl)")
    time: list[float] = Field(description="each bar's close time, epoch seconds")
    equity: list[float] = Field(description="cash + realised + unrealised at each bar close")
    split_time: float | None = Field(description="the first out-of-sample bar's time, or null "
                                                  "without an in-sample split")
    cash: float = Field(description="the starting cash")
    trades: list[RowTradeOut]


class DataFileOut(BaseModel):
    name: str
    size: int
    folder: str


def _service(request: Request) -> OptimizationService:
    return request.app.state.optimization


def _settings(body: JobIn) -> OptimizeSettings:
    from velocitas_desktop.research.optimize import parse_range

    grid: dict[str, list[Any]] = {}
    for name, values in body.grid.items():
        if isinstance(values, str):
            grid[name] = parse_range(f"{name}={values}")[1]
        else:
            grid[name] = list(values)
    return OptimizeSettings(strategy=body.strategy, grid=grid, fixed=dict(body.fixed),
                            random=body.random, seed=body.seed, metric=body.metric,
                            fee=body.fee, slippage=body.slippage, in_sample=body.in_sample,
                            walk_forward=body.walk_forward, workers=body.workers)


@router.get("/data-files", response_model=list[DataFileOut],
            summary="Bar files a job can name (history folder, uploads, bundled samples)")
def data_files(request: Request) -> list[dict[str, Any]]:
    return _service(request).data_files()


@router.post("/jobs", response_model=JobOut, status_code=202,
             summary="Start an optimisation on a data file by name")
async def submit(request: Request, body: JobIn) -> dict[str, Any]:
    service = _service(request)
    record = await run_in_threadpool(service.submit, _settings(body), body.data_file)
    return record.describe()


@router.post(UPLOAD_PATH.removeprefix("/api/optimization"), response_model=JobOut,
             status_code=202,
             summary="Upload a bar file and start an optimisation on it")
async def submit_upload(request: Request,
                        file: Annotated[UploadFile, File(description="a bar file (.csv)")],
                        job: Annotated[str, Form(description="the JobIn fields as JSON, "
                                                 "without data_file")]) -> dict[str, Any]:
    # the job is checked before the file is kept; the file (spooled to a temporary file by
    # the form parser past 1 MB) is copied to the uploads folder a chunk at a time
    settings = _settings(_job_from_form(job, UPLOAD_NAME))
    record = await run_in_threadpool(_service(request).submit_upload, settings,
                                     file.filename or UPLOAD_NAME, file.file, MAX_UPLOAD)
    return record.describe()


def _job_from_form(text: str, data_file: str) -> JobIn:
    import json

    try:
        fields = json.loads(text or "{}")
    except ValueError as exc:
        raise OptimizeError(f"the job field is not valid JSON: {exc}") from None
    if not isinstance(fields, dict):
        raise OptimizeError("the job field must be a JSON object")
    try:
        return JobIn.model_validate({**fields, "data_file": data_file})
    except ValidationError as exc:
        raise OptimizeError(describe_validation(exc.errors())) from None


@router.get("/jobs", response_model=list[JobOut], summary="Jobs, newest first")
def list_jobs(request: Request) -> list[dict[str, Any]]:
    return [record.describe() for record in _service(request).jobs()]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A job's status and progress")
def job_status(request: Request, job_id: str = JobId) -> dict[str, Any]:
    return _service(request).get(job_id).describe()


@router.get("/jobs/{job_id}/results", summary="The ranked results of a job that has ended")
def job_results(request: Request, job_id: str = JobId,
                limit: Annotated[int | None, Query(ge=1, le=100_000)] = None) -> Any:
    return _service(request).results(job_id, limit)


@router.get("/jobs/{job_id}/results/{rank}", response_model=RowBacktestOut,
            summary="One ranked row backtested over the whole file: equity curve and fills")
async def row_backtest(request: Request, job_id: str = JobId,
                       rank: int = Path(ge=1, le=100_000, description="1 = the best")) -> Any:
    # a backtest of the whole file: a few hundred ms on 10,000 bars, off the event loop
    return await run_in_threadpool(_service(request).row_backtest, job_id, rank)


@router.post("/jobs/{job_id}/cancel", response_model=JobOut,
             summary="Cancel a job; the rows it finished stay in its results")
def cancel_job(request: Request, job_id: str = JobId) -> dict[str, Any]:
    return _service(request).cancel(job_id).describe()


def install(app: FastAPI, service: OptimizationService) -> None:
    """Serve ``service`` from ``app``: the routes, the status of their errors, and the app's
    cap on worker processes (``app.state.max_workers``, an engine start's cap) on its jobs."""
    cap = getattr(app.state, "max_workers", None)
    if cap is not None and (service.max_workers is None or cap < service.max_workers):
        service.max_workers = cap
    app.state.optimization = service
    app.include_router(router)

    def reply(status: int) -> Any:
        async def handler(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        return handler

    for exc_class, status in ((JobNotFound, 404), (JobStateError, 409), (OptimizeError, 422),
                              (BacktestError, 422), (UploadTooLarge, 413)):
        app.add_exception_handler(exc_class, reply(status))
