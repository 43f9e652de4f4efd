"""Property-based fuzz of the OpenAPI contract (schemathesis): no input reaches a 5xx, and
every reply matches the schema and the status codes the spec documents."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.security import Access
from velocitas_desktop.store.journal import Journal

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


_FOLDER = tempfile.TemporaryDirectory(prefix="velocitas-fuzz-")
ENGINE = Engine(journal=Journal(Path(_FOLDER.name) / "journal.sqlite3"), restore=False)
# no worker processes (the fuzz would spawn dozens); an exchange address that refuses at once,
# so data_source=binance fails fast with a 4xx instead of reaching out to the internet
# the fuzz reaches the app in-process, as the test client's host "testserver"
APP = create_app(ENGINE, max_workers=0, engine_defaults=EngineConfig(
    binance_rest_url="http://127.0.0.1:9", binance_ws_url="ws://127.0.0.1:9"),
    access=Access.serving("127.0.0.1", allowed_hosts=["testserver"]))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def engine_stopped_afterwards():
    yield
    if ENGINE.status in ("running", "starting"):
        ENGINE.stop()  # whatever the fuzz started does not outlive the test
    ENGINE.close()
    _FOLDER.cleanup()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_reaches_a_server_error_or_breaks_the_schema(case):
    case.call_and_validate(checks=CHECKS)
