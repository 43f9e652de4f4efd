"""Property-based fuzz of the OpenAPI contract (schemathesis): no input reaches a 5xx, and
every reply matches the schema and the status codes the spec documents; and the inputs a
probe found that the fuzz did not (a 401-digit parameter, a 200,000-character first line)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.security import Access
from velocitas_desktop.store.journal import Journal

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


_FOLDER = tempfile.TemporaryDirectory(prefix="velocitas-fuzz-")
ENGINE = Engine(journal=Journal(Path(_FOLDER.name) / "journal.sqlite3"), restore=False)
# uploads go to the fuzz's own folder: the app is built at import, before the tests' private
# user folder exists, so the default service would write to the real one
JOBS = OptimizationService([sample_data_dir()], catalog=ENGINE.catalog,
                           upload_dir=Path(_FOLDER.name) / "uploads")
# no worker processes (the fuzz would spawn dozens); an exchange address that refuses at once,
# so data_source=binance fails fast with a 4xx instead of reaching out to the internet
# the fuzz reaches the app in-process, as the test client's host "testserver"
APP = create_app(ENGINE, max_workers=0, optimization=JOBS, engine_defaults=EngineConfig(
    binance_rest_url="http://127.0.0.1:9", binance_ws_url="ws://127.0.0.1:9"),
    access=Access.serving("127.0.0.1", allowed_hosts=["testserver"]))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def engine_stopped_afterwards():
    yield
    if ENGINE.status in ("running", "starting"):
        ENGINE.stop()  # whatever the fuzz started does not outlive the test
    JOBS.shutdown(timeout=10)
    # and the trend analyses and rule tests it started: none outlives the test
    APP.state.trend.shutdown(timeout=10)
    APP.state.copilot_tests.shutdown(timeout=10)
    ENGINE.close()
    _FOLDER.cleanup()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_reaches_a_server_error_or_breaks_the_schema(case):
    case.call_and_validate(checks=CHECKS)


# --- what the fuzz did not reach ----------------------------------------------------------

HUGE = "1" + "0" * 400  # a JSON number a float cannot hold: float() raised OverflowError
LONG_LINE = "x" * 200_000  # over the csv module's 131,072-character field limit


@pytest.fixture
def api() -> TestClient:
    with TestClient(APP, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def long_line_file(tmp_path: Path) -> Path:
    path = tmp_path / "long.csv"
    path.write_text(LONG_LINE + "\n1704067200,1,2,0.5,1.5,3\n", encoding="utf-8")
    return path


def raw_json(body: dict, number: str) -> str:
    """``body`` as JSON text with ``number`` written as is where it says "NUMBER": Python's
    json module would not write a 401-digit literal into a float field."""
    return json.dumps(body).replace('"NUMBER"', number)


def assert_refused(reply, words: str) -> None:
    assert 400 <= reply.status_code < 500, (reply.status_code, reply.text[:300])
    assert words in reply.json()["detail"], reply.text[:300]


def test_registering_with_a_401_digit_parameter_is_a_4xx_with_a_message(api) -> None:
    body = raw_json({"name": "SMA_Crossover", "coin": "BTC", "params": {"fast": "NUMBER"}}, HUGE)
    reply = api.post("/api/strategies/register", content=body,
                     headers={"content-type": "application/json"})
    assert_refused(reply, "fast is too large (a number of 401 digits)")


@pytest.mark.parametrize("value", [HUGE, f'"{HUGE}"'], ids=["number", "text"])
def test_updating_with_a_401_digit_parameter_is_a_4xx_with_a_message(api, value) -> None:
    registered = api.post("/api/strategies/register", json={
        "name": "RSI", "coin": "BTC", "strategy_id": "fuzz_huge_update"})
    assert registered.status_code == 200, registered.text
    try:
        reply = api.put("/api/strategies/fuzz_huge_update/params",
                        content=raw_json({"params": {"quantity": "NUMBER"}}, value),
                        headers={"content-type": "application/json"})
        assert_refused(reply, "quantity is too large (a number of 401 digits)")
    finally:
        api.delete("/api/strategies/fuzz_huge_update")


def test_starting_on_a_file_with_a_200000_character_first_line_is_a_4xx(
        api, long_line_file: Path) -> None:
    reply = api.post("/api/engine/start",
                     params={"data_source": "csv", "csv": f"BTC={long_line_file}"})
    assert_refused(reply, "line 1: the line is longer than 131,072 characters")
    assert api.get("/api/engine/status").json()["status"] != "running"


def test_uploading_a_file_with_a_200000_character_first_line_is_a_4xx(
        api, long_line_file: Path) -> None:
    reply = api.post("/api/optimization/jobs/upload",
                     files={"file": ("long.csv", long_line_file.read_bytes(), "text/csv")},
                     data={"job": json.dumps({"strategy": "RSI", "workers": 0})},
                     headers={"X-Velocitas": "1"})  # a script's upload (docs/api.md, Security)
    assert_refused(reply, "line 1: the line is longer than 131,072 characters")
