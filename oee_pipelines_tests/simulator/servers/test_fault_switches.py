"""The fault switches every simulator server shares: a fault after N good answers, a dropped connection."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches, ServerThread


async def points(request: Request) -> JSONResponse:
    return JSONResponse({"items": [{"value": n} for n in range(200)]})


@pytest.fixture
def served() -> Iterator[tuple[str, FaultSwitches]]:
    switches = FaultSwitches()
    app = FaultInjectionMiddleware(Starlette(routes=[Route("/points", points)]), switches)
    with ServerThread(app) as server:
        yield server.base_url, switches


def test_pass_first_lets_n_answers_through_before_the_fault(served: tuple[str, FaultSwitches]) -> None:
    base_url, switches = served
    switches.pass_first, switches.fail_next = 2, 1

    statuses = [httpx.get(f"{base_url}/points").status_code for _ in range(4)]

    assert statuses == [200, 200, 500, 200]


def test_drop_next_cuts_the_connection_mid_response(served: tuple[str, FaultSwitches]) -> None:
    base_url, switches = served
    switches.drop_next = 1

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{base_url}/points")
    assert len(httpx.get(f"{base_url}/points").json()["items"]) == 200  # the next answer is whole


def test_reset_clears_the_new_switches(served: tuple[str, FaultSwitches]) -> None:
    _, switches = served
    switches.pass_first = switches.drop_next = 3

    switches.reset()

    assert (switches.pass_first, switches.drop_next) == (0, 0)
