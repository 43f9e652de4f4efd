"""REST routes of the copilot mode: rules (write, list, enable, import, export), their alerts
and the actions they propose (confirm, reject), the settings and webhook deliveries, and a
test of rules on a bar file as a job. Each route makes one engine contract call (the engine
hosts the copilot, copilot/service.py); the schemas below are the documented contract, and
:meth:`Rule.from_json <velocitas_desktop.copilot.rules.Rule.from_json>` is the one check of a
rule: a bad one is a 422 with its message, naming the rule, the field and the fix."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from velocitas_desktop.copilot.tester_jobs import RuleTestRequest, RuleTestService
from velocitas_desktop.research.optimize import JobStatus
from velocitas_desktop.server.schemas import MAX_ID

router = APIRouter(prefix="/api/copilot", tags=["copilot"])
MAX_WAIT = 60.0  # seconds a test request may wait for its job's end before the reply
MAX_RULES = 500  # rules in one import or test: a trader's whole set, several times over
# who decided an action, for the journal: "api" unless the browser view's page says it is
# the one asking (docs/api.md, Copilot)
CLIENT_HEADER = "X-Velocitas-Client"
Severity = Literal["info", "warning", "critical"]
ActionStatus = Literal["pending", "executed", "rejected", "failed", "expired"]
RuleId = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
              description="e.g. btc-70k")


def _row_id() -> Any:
    # a Path per parameter: FastAPI keeps a parameter's name on its Path object
    return Path(ge=1, le=MAX_ID, description="e.g. 17")


Limit = Query(100, ge=1, le=1000, description="rows in the reply, at most")


class _Open(BaseModel):
    # a field the service adds later reaches the caller instead of being dropped
    model_config = ConfigDict(extra="allow")


# --- condition types (copilot/conditions.py describe_conditions) ---------------------------

class ConditionParamOut(_Open):
    name: str
    kind: Literal["number", "integer", "timeframe", "choice"] | str
    default: Any = None
    low: float | None = None
    high: float | None = None
    exclusive_low: bool = Field(False, description="the value must be above low, not at it")
    choices: list[Any] | None = None
    doc: str = ""


class ConditionTypeOut(_Open):
    """One condition a rule may watch, with its parameters' kinds, bounds and choices (what
    a rule form is built from)."""

    type: str = Field(examples=["price_cross"])
    group: str = Field(examples=["price"])
    doc: str
    scopes: list[Literal["coin", "strategy", "all"]] = Field(
        description="the scopes a rule of this type may have")
    one_of: list[list[str]] = Field(
        default_factory=list, description="groups of parameters of which exactly one is given")
    message: str = Field("", description="the alert's message when the rule has none")
    params: list[ConditionParamOut]


# --- rules ---------------------------------------------------------------------------------

class ConditionIn(BaseModel):
    type: str = Field(examples=["price_cross"], description="a type of GET "
                                                            "/api/copilot/conditions")
    params: dict[str, Any] = Field(default_factory=dict,
                                   examples=[{"level": 70000, "direction": "up"}])


class ScopeIn(BaseModel):
    kind: str = Field("all", examples=["coin"], description="coin, strategy or all")
    value: str | None = Field(None, examples=["BTC"], description="the coin or strategy id; "
                                                                 "null for all")


class FrequencyIn(BaseModel):
    mode: str = Field("every_time", description="once, once_per_bar, once_per_bar_close or "
                                                "every_time")
    bar: str | None = Field(None, examples=["1m"], description="the bar modes' timeframe")
    cooldown_s: float | None = Field(None, description="every_time: seconds between firings")


class ActionIn(BaseModel):
    type: str = Field(examples=["pause_strategy"])
    params: dict[str, Any] = Field(default_factory=dict)
    auto: bool = Field(False, description="run without confirmation (a kill switch)")


class RuleIn(BaseModel):
    """A rule as a trader writes it (docs/copilot.md). Only the shape is checked here: the
    copilot checks the rest (condition parameters and their bounds, the scope the condition
    allows, the message template...) and a bad rule is a 422 naming the field."""

    # unknown fields go on to the rule's own check, which names them and lists the right ones
    model_config = ConfigDict(extra="allow")

    id: str | None = Field(None, examples=["btc-70k"],
                           description="[A-Za-z0-9_.-]{1,64}; made from the name if absent")
    name: str | None = Field(None, examples=["BTC above 70k"])
    enabled: bool = True
    condition: ConditionIn
    scope: ScopeIn | None = None
    frequency: FrequencyIn | None = None
    expires: float | None = Field(None, description="epoch seconds; null: never")
    severity: str = Field("warning", description="info, warning or critical")
    message: str | None = Field(None, examples=["{coin} crossed {threshold} at {price}"],
                                description="a template: {coin} {price} {value} {threshold} "
                                            "{strategy} {time} {rule}, format specs allowed")
    action: ActionIn | None = None

    def to_rule(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class RuleOut(_Open):
    id: str
    name: str
    enabled: bool
    condition: dict[str, Any] = Field(description='{"type", "params"}')
    scope: dict[str, Any] = Field(description='{"kind", "value"}')
    frequency: dict[str, Any] = Field(description='{"mode", "bar" | "cooldown_s"}')
    expires: float | None
    severity: Severity
    message: str
    action: dict[str, Any] | None = Field(description='{"type", "params", "auto"} or null')
    created: float | None = None
    fired: int = 0
    last_fired: float | None = None
    disabled_reason: str | None = Field(None, description="why the monitor disabled it")


class RulesFile(BaseModel):
    """The rules file (what export writes and import reads)."""

    rules: list[dict[str, Any]]


class ImportIn(BaseModel):
    rules: list[dict[str, Any]] = Field(max_length=MAX_RULES, description=(
        "rules as RuleIn; all are checked before any is saved"))
    replace: bool = Field(False, description="true: the rules not in the file are deleted")


# --- alerts, actions, deliveries, settings --------------------------------------------------

class AlertOut(_Open):
    id: int
    rule_id: str
    rule_name: str
    time: float
    tick_time: float | None = Field(description="the triggering tick's arrival")
    coin: str | None
    strategy_id: str | None
    severity: Severity
    message: str
    price: float | None
    value: float | None
    threshold: float | None
    acknowledged: bool
    action_id: int | None
    throttled: bool = Field(description="the alert that says a runaway rule was throttled")
    dedup_key: str | None = None


class ActionOut(_Open):
    id: int
    alert_id: int | None
    rule_id: str | None
    type: str
    params: dict[str, Any]
    reason: str
    status: ActionStatus
    auto: bool
    created: float
    decided: float | None
    decided_by: str | None = Field(description="window, browser, api, cli or rule:<id>")
    result: str | None = Field(description="what happened, or the error")


class DeliveryOut(_Open):
    id: int
    alert_id: int | None
    channel: str = Field(description="webhook or heartbeat")
    target: str
    format: str
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None
    dedup_key: str | None
    created: float
    sent: float | None


class DailyLossIn(BaseModel):
    enabled: bool = False
    amount: float | None = Field(None, description="the day's loss limit in the quote asset")
    percent: float | None = Field(None, description="... or as % of the capital")
    close_positions: bool = Field(True, description="close every open position as well as "
                                                    "pausing (false: pause only)")


class WebhookIn(BaseModel):
    url: str = Field(max_length=2000, examples=["https://example.com/hook"])
    format: str = Field("json", description="json, discord, slack or telegram")
    min_severity: str = Field("info", description="info, warning or critical")
    enabled: bool = True
    chat_id: str | None = Field(None, max_length=100, description=(
        "telegram only, and needed there: the chat the bot posts to (the URL is the bot's "
        "https://api.telegram.org/bot<token>/sendMessage)"))


class WebhookTestOut(BaseModel):
    delivered: bool = Field(description="the endpoint answered 2xx")
    error: str | None = Field(description="why not: the status and the start of the answer, "
                                          "a timeout, a refused connection")
    url: str
    format: str
    elapsed_ms: float


class HeartbeatIn(BaseModel):
    url: str | None = Field(None, max_length=2000)
    interval_s: float = 60.0


class ThrottleIn(BaseModel):
    count: int = 15
    window_s: float = 180.0


class SettingsIn(BaseModel):
    """The parts to change; a part left out stays as it is."""

    daily_loss: DailyLossIn | None = None
    webhooks: list[WebhookIn] | None = Field(None, max_length=50)
    heartbeat: HeartbeatIn | None = None
    throttle: ThrottleIn | None = None


class SettingsOut(_Open):
    daily_loss: dict[str, Any]
    webhooks: list[dict[str, Any]]
    heartbeat: dict[str, Any]
    throttle: dict[str, Any]


# --- test on history -------------------------------------------------------------------------

class TestIn(BaseModel):
    """Replay a data file (see GET /api/optimization/data-files) through rules."""

    data_file: str = Field(min_length=1, max_length=130, examples=["BTCUSD-1h-sample.csv"])
    rules: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_RULES,
                                        description="rules as RuleIn")
    strategy: str | None = Field(None, max_length=100, examples=["SMA_Crossover"],
                                 description="backtest this strategy beside the rules, to "
                                             "show what their actions would have changed")
    params: dict[str, Any] = Field(default_factory=dict, description="the strategy's")
    coin: str = Field("BTC", min_length=1, max_length=20, pattern=r"^[A-Za-z0-9]+$")
    wait: float = Field(0.0, ge=0, le=MAX_WAIT,
                        description="seconds to wait for the job's end before answering")

    def to_request(self) -> RuleTestRequest:
        return RuleTestRequest.of(self.rules, strategy=self.strategy, params=self.params,
                                  coin=self.coin.upper())


class FiringOut(_Open):
    rule_id: str
    time: float
    price: float | None
    value: float | None = None
    message: str
    action: Any = None


class RunOut(_Open):
    return_pct: float | None
    max_drawdown_pct: float | None
    trades: int | None


class EffectOut(_Open):
    rule_id: str
    action: Any = None
    strategy: str | None
    without: RunOut
    with_: RunOut = Field(alias="with")
    drawdown_saved_pct: float | None

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TestResultOut(_Open):
    firings: list[FiringOut] = Field(description="in time order")
    counts: dict[str, int] = Field(description="firings per rule id")
    effects: list[EffectOut] = Field(description="rules with an action, on the strategy's "
                                                 "backtest")


class TestJobOut(BaseModel):
    job_id: str
    status: JobStatus
    done: int
    total: int
    progress: float
    data: str = Field(description="the data file replayed")
    created: float
    error: str | None = None
    result: TestResultOut | None = Field(None, description="once the job has finished")


# --- routes ----------------------------------------------------------------------------------

def _engine(request: Request) -> Any:
    return request.app.state.engine


@router.get("/conditions", response_model=list[ConditionTypeOut],
            summary="The condition types a rule may watch, with their parameters")
def conditions(request: Request) -> Any:
    return _engine(request).copilot_conditions()


@router.get("/rules", response_model=list[RuleOut], summary="Every rule")
def list_rules(request: Request) -> Any:
    return _engine(request).copilot_rules()


@router.post("/rules", response_model=RuleOut, status_code=201,
             summary="Create a rule (409 if its id is taken)")
def create_rule(request: Request, body: RuleIn) -> Any:
    return _engine(request).save_copilot_rule(body.to_rule(), replace=False)


# before /rules/{rule_id}, which would take "export" for an id
@router.get("/rules/export", response_model=RulesFile,
            summary="Every rule as a rules file (what import and `velocitas copilot add` read)")
def export_rules(request: Request) -> Any:
    return {"rules": _engine(request).copilot_rules()}


@router.post("/rules/import", response_model=list[RuleOut],
             summary="Save the rules of a rules file: all of them, or none if one is bad")
def import_rules(request: Request, body: ImportIn) -> Any:
    return _engine(request).import_copilot_rules(body.rules, replace=body.replace)


@router.get("/rules/{rule_id}", response_model=RuleOut, summary="One rule")
def get_rule(request: Request, rule_id: str = RuleId) -> Any:
    return _engine(request).copilot_rule(rule_id)


@router.put("/rules/{rule_id}", response_model=RuleOut,
            summary="Replace a rule (its counters are kept)")
def update_rule(request: Request, body: RuleIn, rule_id: str = RuleId) -> Any:
    from velocitas_desktop.copilot.rules import RuleError

    rule = body.to_rule()
    if rule.setdefault("id", rule_id) != rule_id:
        raise RuleError(f"rule {rule_id!r}: the body's id {rule['id']!r} is not the one in "
                        "the address; leave it out or make them the same")
    # replace=True: a rule that is not there is a 404, PUT does not create
    return _engine(request).save_copilot_rule(rule, replace=True)


@router.delete("/rules/{rule_id}", status_code=204, summary="Delete a rule")
def delete_rule(request: Request, rule_id: str = RuleId) -> None:
    _engine(request).delete_copilot_rule(rule_id)


@router.post("/rules/{rule_id}/enable", response_model=RuleOut, summary="Enable a rule "
             "(clears the reason the monitor disabled it)")
def enable_rule(request: Request, rule_id: str = RuleId) -> Any:
    return _engine(request).enable_copilot_rule(rule_id, True)


@router.post("/rules/{rule_id}/disable", response_model=RuleOut, summary="Disable a rule")
def disable_rule(request: Request, rule_id: str = RuleId) -> Any:
    return _engine(request).enable_copilot_rule(rule_id, False)


@router.get("/alerts", response_model=list[AlertOut],
            summary="Alerts, newest first; page back with before_id")
def list_alerts(
        request: Request,
        after_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description=(
            "only alerts with a larger id"))] = None,
        before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description=(
            "only alerts with a smaller id: the oldest id of the page before"))] = None,
        limit: int = Limit,
        severity: Annotated[Severity | None, Query(description=(
            "only alerts of this severity"))] = None) -> Any:
    return _engine(request).copilot_alerts(after_id=after_id, before_id=before_id,
                                           limit=limit, severity=severity)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut,
             summary="Mark an alert as seen")
def acknowledge_alert(request: Request, alert_id: int = _row_id()) -> Any:
    return _engine(request).acknowledge_alert(alert_id)


@router.get("/actions", response_model=list[ActionOut],
            summary="Actions the rules proposed or took, newest first")
def list_actions(request: Request,
                 status: Annotated[ActionStatus | None, Query(description=(
                     "only actions in this state (pending: waiting for a decision)"))] = None,
                 limit: int = Limit) -> Any:
    return _engine(request).copilot_actions(status=status, limit=limit)


ClientHeader = Annotated[Literal["browser"] | None, Header(
    alias=CLIENT_HEADER, description="browser: the browser view's page decided (the journal "
                                     "records who); scripts leave it out")]


@router.post("/actions/{action_id}/confirm", response_model=ActionOut,
             summary="Carry out a pending action (409 if it was decided already)")
def confirm_action(request: Request, action_id: int = _row_id(),
                   client: ClientHeader = None) -> Any:
    return _engine(request).decide_action(action_id, True, client or "api")


@router.post("/actions/{action_id}/reject", response_model=ActionOut,
             summary="Reject a pending action (409 if it was decided already)")
def reject_action(request: Request, action_id: int = _row_id(),
                  client: ClientHeader = None) -> Any:
    return _engine(request).decide_action(action_id, False, client or "api")


@router.get("/settings", response_model=SettingsOut,
            summary="The daily-loss guard, webhooks, heartbeat and throttle")
def get_settings(request: Request) -> Any:
    return _engine(request).copilot_settings()


@router.put("/settings", response_model=SettingsOut,
            summary="Change the settings (the parts given; 422 names a bad field)")
def put_settings(request: Request, body: SettingsIn) -> Any:
    return _engine(request).update_copilot_settings(body.model_dump(exclude_unset=True))


@router.get("/deliveries", response_model=list[DeliveryOut],
            summary="Webhook and heartbeat deliveries, newest first")
def list_deliveries(request: Request, limit: int = Limit) -> Any:
    return _engine(request).copilot_deliveries(limit=limit)


@router.post("/webhooks/test", response_model=WebhookTestOut,
             summary="Send one test message to a webhook (saved or not) and say whether it "
                     "arrived; nothing is recorded")
def send_webhook_test(request: Request, body: WebhookIn) -> Any:
    return _engine(request).copilot_test_webhook(body.model_dump(exclude_none=True))


def _tests(request: Request) -> RuleTestService:
    return request.app.state.copilot_tests


@router.post("/test", response_model=TestJobOut, status_code=202,
             response_model_exclude_unset=True,
             summary="Replay a data file through rules as a job: when each would have fired, "
                     "and what its action would have changed")
async def test_rules(request: Request, body: TestIn) -> Any:
    from starlette.concurrency import run_in_threadpool

    # the rules, the file and the strategy are checked before the reply: a bad one is a
    # 4xx, not a job that failed
    job = await run_in_threadpool(_tests(request).submit, body.to_request(), body.data_file)
    deadline = time.monotonic() + body.wait
    while not job.wait(0) and time.monotonic() < deadline:
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return job.describe()


@router.get("/test/{job_id}", response_model=TestJobOut, response_model_exclude_unset=True,
            summary="A test job's progress, and its result once it has finished")
def test_job(request: Request,
             job_id: str = Path(min_length=1, max_length=40, description="e.g. test-1")) -> Any:
    return _tests(request).get(job_id).describe()


def install(app: FastAPI, tests: RuleTestService) -> None:
    """Serve the copilot from ``app``: the routes, the test jobs (their errors share the
    optimisation's statuses: 404, 409) and a bad rule's 422."""
    from velocitas_desktop.copilot.rules import RuleError

    app.state.copilot_tests = tests
    app.include_router(router)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    app.add_exception_handler(RuleError, invalid)
