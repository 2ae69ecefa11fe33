"""Historian simulator servers on loopback with small, exact point sources, and clients for them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from oee_pipelines.connectors.historian.aveva import AvevaHistorianClient
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import HistorianCredentials
from oee_pipelines.connectors.http import RetryPolicy
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import InMemoryPointSource, PointArrays
from oee_pipelines.simulator.servers.runtime import ServerThread

T0 = datetime(2025, 1, 6, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
SECOND_US = 1_000_000
TINY_RETRY = RetryPolicy(
    attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.01, timeout_seconds=10
)
BASIC = HistorianCredentials(username="historian-user", password="historian-password")


def numeric_points(seconds: list[int], quality: list[int] | None = None) -> PointArrays:
    ts = np.array([T0_US + s * SECOND_US for s in seconds], np.int64)
    values = np.arange(len(seconds), dtype=np.float64) + 0.5
    return PointArrays(ts, values, np.array(quality or [100] * len(seconds), np.int16))


def exact_source() -> InMemoryPointSource:
    """FLOW: 25 values, five of them at second 10 (a paging boundary at maxCount 12 falls among them);
    STATE: digital states; BAD: good, system state, error object, questionable, substituted."""
    flow_seconds = list(range(10)) + [10] * 5 + list(range(11, 21))
    states = PointArrays(
        np.array([T0_US, T0_US + 60 * SECOND_US, T0_US + 90 * SECOND_US], np.int64),
        np.array([1.0, 0.0, 1.0]),
        np.array([100, 100, 100], np.int16),
        np.array(["RUNNING", "BRK-MECH", "RUNNING"], dtype=object),
    )
    bad = PointArrays(
        np.array([T0_US + s * SECOND_US for s in range(5)], np.int64),
        np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        np.array([100, 0, 0, 50, 75], np.int16),
        np.array([None, "I/O Timeout", None, None, None], dtype=object),
    )
    return InMemoryPointSource({"FLOW": numeric_points(flow_seconds), "STATE": states, "BAD": bad})


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
