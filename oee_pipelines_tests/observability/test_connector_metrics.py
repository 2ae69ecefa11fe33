"""Connector errors and retries by system, counted by the one HTTP client every REST connector uses."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from oee_pipelines.connectors.errors import SourceAuthError, SourceSystemError
from oee_pipelines.connectors.http import RetryingHttpClient, RetryPolicy
from oee_pipelines.observability.exposition import sample_value
from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches, ServerThread

SYSTEM = "metrics-test-mes"


def current(name: str, **labels: str) -> float:
    return sample_value(generate_latest().decode(), name, **labels)


def test_a_source_that_stays_down_counts_retries_then_one_error() -> None:
    switches = FaultSwitches(fail_next=100)
    app = FaultInjectionMiddleware(
        Starlette(routes=[Route("/ok", lambda _: PlainTextResponse("ok"))]), switches
    )
    errors_before = current("oee_connector_errors_total", system=SYSTEM, error="SourceSystemError")
    retries_before = current("oee_connector_retries_total", system=SYSTEM)
    with (
        ServerThread(app) as server,
        RetryingHttpClient(
            SYSTEM, server.base_url, policy=RetryPolicy(attempts=4), sleep=lambda _: None
        ) as client,
    ):
        with pytest.raises(SourceSystemError, match="gave up after 4 attempts"):
            client.get("/ok")
        switches.reset()
        switches.reject_auth = True
        with pytest.raises(SourceAuthError):
            client.get("/ok")
    assert (
        current("oee_connector_errors_total", system=SYSTEM, error="SourceSystemError") - errors_before == 1
    )
    assert current("oee_connector_errors_total", system=SYSTEM, error="SourceAuthError") == 1
    assert current("oee_connector_retries_total", system=SYSTEM) - retries_before == 3
    assert switches.requests_seen == 5
