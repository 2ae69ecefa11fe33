"""Historian simulator servers on loopback with small, exact point sources, and clients for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oee_pipelines.connectors.historian.aveva import AvevaHistorianClient
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.historian import BASIC, TINY_RETRY, exact_source


@pytest.fixture
def pi_simulator() -> PiWebApiSimulator:
    return PiWebApiSimulator(exact_source(), max_returned_items_per_call=1000)


@pytest.fixture
def pi_server(pi_simulator: PiWebApiSimulator) -> Iterator[ServerThread]:
    with ServerThread(pi_simulator.app) as server:
        yield server


@pytest.fixture
def pi_client(pi_server: ServerThread) -> Iterator[PiWebApiClient]:
    client = PiWebApiClient(
        pi_server.base_url + "/piwebapi", "PISRV01", BASIC, max_count=12, concurrency=1, policy=TINY_RETRY
    )
    with client:
        yield client


@pytest.fixture
def aveva_simulator() -> AvevaHistorianSimulator:
    return AvevaHistorianSimulator(exact_source(), page_size=7)


@pytest.fixture
def aveva_server(aveva_simulator: AvevaHistorianSimulator) -> Iterator[ServerThread]:
    with ServerThread(aveva_simulator.app) as server:
        yield server


@pytest.fixture
def aveva_client(aveva_server: ServerThread) -> Iterator[AvevaHistorianClient]:
    with AvevaHistorianClient(aveva_server.base_url, BASIC, concurrency=2, policy=TINY_RETRY) as client:
        yield client
