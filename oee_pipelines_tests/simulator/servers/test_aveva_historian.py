"""The AVEVA Historian simulator speaks OData v4: $filter, @odata.nextLink, OpcQuality, errors, auth."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.point_source import InMemoryPointSource, PointArrays
from oee_pipelines.simulator.servers.runtime import ServerThread

T0_US = 1_736_121_600_000_000  # 2025-01-06T00:00:00Z
SOURCE = InMemoryPointSource(
    {
        "Line1.Flow": PointArrays(
            np.array([T0_US + s * 1_000_000 for s in range(5)], np.int64),
            np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
            np.array([100, 50, 0, 75, 100], np.int16),
        )
    }
)
FILTER = "FQN eq 'Line1.Flow' and DateTime ge 2025-01-06T00:00:00Z and DateTime lt 2025-01-06T00:00:04Z"


@pytest.fixture
def simulator() -> AvevaHistorianSimulator:
    return AvevaHistorianSimulator(SOURCE, page_size=3)


@pytest.fixture
def http(simulator: AvevaHistorianSimulator) -> Iterator[httpx.Client]:
    auth = ("historian-user", "historian-password")
    with ServerThread(simulator.app) as server, httpx.Client(base_url=server.base_url, auth=auth) as client:
        yield client


def test_process_values_page_with_next_link_and_opc_quality(http: httpx.Client) -> None:
    first = http.get("Historian/v2/ProcessValues", params={"$filter": FILTER}).json()
    assert first["@odata.context"].endswith("Historian/v2/$metadata#ProcessValues")
    assert [row["OpcQuality"] for row in first["value"]] == [192, 64, 0]
    assert (
        first["value"][2]["Value"] is None and first["value"][0]["DateTime"] == "2025-01-06T00:00:00.0000000Z"
    )
    second = http.get(first["@odata.nextLink"]).json()
    assert [row["Value"] for row in second["value"]] == [4.0]  # DateTime lt excludes second 4
    assert [row["OpcQuality"] for row in second["value"]] == [216]
    assert "@odata.nextLink" not in second


def test_bad_filters_unknown_tags_and_expired_password(
    http: httpx.Client, simulator: AvevaHistorianSimulator
) -> None:
    assert (
        http.get("Historian/v2/ProcessValues", params={"$filter": "FQN eq 'Line1.Flow'"}).status_code == 400
    )
    unknown = http.get("Historian/v2/ProcessValues", params={"$filter": FILTER.replace("Line1.Flow", "Nope")})
    assert unknown.status_code == 404 and "Nope" in unknown.json()["error"]["message"]
    simulator.login.expire_password()
    assert http.get("Historian/v2/ProcessValues", params={"$filter": FILTER}).status_code == 401


def test_analog_summary_rows(http: httpx.Client) -> None:
    summary_filter = FILTER.replace("DateTime ge", "StartDateTime ge").replace(
        "DateTime lt", "EndDateTime le"
    )
    rows = http.get(
        "Historian/v2/AnalogSummary", params={"$filter": summary_filter, "Resolution": 2000}
    ).json()["value"]
    assert [(row["First"], row["Last"], row["ValueCount"]) for row in rows] == [(1.0, 2.0, 2), (4.0, 4.0, 1)]
    assert (
        rows[0]["Average"] == pytest.approx(1.5) and rows[1]["EndDateTime"] == "2025-01-06T00:00:04.0000000Z"
    )
