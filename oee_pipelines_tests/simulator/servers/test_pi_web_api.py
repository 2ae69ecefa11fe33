"""The PI Web API simulator speaks the product's wire shapes: points, recorded, streamsets, limits, auth."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import InMemoryPointSource, PointArrays
from oee_pipelines.simulator.servers.runtime import ServerThread

T0_US = 1_736_121_600_000_000  # 2025-01-06T00:00:00Z
AUTH = ("historian-user", "historian-password")
SOURCE = InMemoryPointSource(
    {
        "FLOW": PointArrays(
            np.array([T0_US, T0_US + 1, T0_US + 2_000_000], np.int64),
            np.array([1.5, 2.0, 3.25]),
            np.array([100, 50, 75], np.int16),
        ),
        "STATE": PointArrays(
            np.array([T0_US, T0_US + 5_000_000], np.int64),
            np.array([1.0, 0.0]),
            np.array([100, 0], np.int16),
            np.array(["RUNNING", "I/O Timeout"], dtype=object),
        ),
    }
)
RANGE = {"startTime": "2025-01-06T00:00:00Z", "endTime": "2025-01-06T01:00:00Z"}


@pytest.fixture
def simulator() -> PiWebApiSimulator:
    return PiWebApiSimulator(SOURCE, max_returned_items_per_call=2)


@pytest.fixture
def http(simulator: PiWebApiSimulator) -> Iterator[httpx.Client]:
    with (
        ServerThread(simulator.app) as server,
        httpx.Client(base_url=server.base_url + "/piwebapi", auth=AUTH) as client,
    ):
        yield client


def test_point_lookup_by_path_and_multiple(http: httpx.Client, simulator: PiWebApiSimulator) -> None:
    point = http.get("points", params={"path": r"\\PISRV01\FLOW"}).json()
    assert point["WebId"] == simulator.web_id("FLOW") and point["Path"] == r"\\PISRV01\FLOW"
    missing = http.get("points", params={"path": r"\\PISRV01\NOPE"})
    assert missing.status_code == 404 and "Errors" in missing.json()
    items = http.get(
        "points/multiple", params=[("path", r"\\PISRV01\STATE"), ("path", r"\\PISRV01\NOPE")]
    ).json()["Items"]
    assert items[0]["Object"]["Name"] == "STATE" and items[1]["Exception"]["StatusCode"] == 404


def test_recorded_values_have_seven_digit_timestamps_flags_and_max_count(
    http: httpx.Client, simulator: PiWebApiSimulator
) -> None:
    web_id = simulator.web_id("FLOW")
    items = http.get(f"streams/{web_id}/recorded", params=RANGE | {"maxCount": 2}).json()["Items"]
    assert [item["Timestamp"] for item in items] == [
        "2025-01-06T00:00:00.0000000Z",
        "2025-01-06T00:00:00.0000010Z",
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", item["Timestamp"]) for item in items)
    assert [(item["Value"], item["Good"], item["Questionable"]) for item in items] == [
        (1.5, True, False),
        (2.0, True, True),
    ]
    too_many = http.get(f"streams/{web_id}/recorded", params=RANGE | {"maxCount": 3})
    assert too_many.status_code == 400 and "maximum allowed (2)" in too_many.json()["Errors"][0]


def test_streamsets_carry_digital_states_and_web_exceptions(
    http: httpx.Client, simulator: PiWebApiSimulator
) -> None:
    simulator.failing_tags.add("FLOW")
    params = [
        ("webId", simulator.web_id("STATE")),
        ("webId", simulator.web_id("FLOW")),
        ("maxCount", 2),
        *RANGE.items(),
    ]
    response = http.get("streamsets/recorded", params=params)
    assert response.status_code == 200
    state, flow = response.json()["Items"]
    assert state["Items"][0]["Value"] == {"Name": "RUNNING", "Value": 1, "IsSystem": False}
    assert state["Items"][1]["Value"]["IsSystem"] is True and state["Items"][1]["Good"] is False
    assert flow["WebException"]["StatusCode"] == 502 and flow["Items"] == []


def test_expired_password_and_wrong_credentials_are_401(
    http: httpx.Client, simulator: PiWebApiSimulator
) -> None:
    assert (
        http.get("points", params={"path": r"\\PISRV01\FLOW"}, auth=("historian-user", "wrong")).status_code
        == 401
    )
    simulator.login.expire_password()
    assert http.get("points", params={"path": r"\\PISRV01\FLOW"}).status_code == 401


def test_interpolated_values_and_bad_parameters(http: httpx.Client, simulator: PiWebApiSimulator) -> None:
    web_id = simulator.web_id("FLOW")
    params = {"startTime": "2025-01-06T00:00:01Z", "endTime": "2025-01-06T00:00:02Z", "interval": "1s"}
    items = http.get(f"streams/{web_id}/interpolated", params=params).json()["Items"]
    assert [item["Value"] for item in items] == pytest.approx([2.0 + 1.25 * (1 - 1e-6) / (2 - 1e-6), 3.25])
    assert http.get(f"streams/{web_id}/interpolated", params=params | {"interval": "0.1s"}).status_code == 400
    assert http.get(f"streams/{web_id}/recorded", params={"startTime": "yesterday"}).status_code == 400
    assert http.get("streams/NOPE/recorded", params=RANGE).status_code == 404
