"""PI servers whose MaxReturnedItemsPerCall is below the client's maxCount (issue 14 item 6): the client
takes the limit the 400 names, or halves until the server accepts, and every value arrives exactly once."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import concat_points
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import SyntheticPointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.historian import BASIC, T0, TINY_RETRY, exact_source

START = T0.replace(day=1)
CONFIGURED = 5000


def of_tag(table: pa.Table, tag: str) -> pa.Table:
    return table.filter(pc.equal(table["tag"].cast(pa.string()), tag))


def halved_until(limit: int, count: int = CONFIGURED) -> int:
    while count > limit:
        count //= 2
    return count


@pytest.mark.parametrize("named", [True, False], ids=["limit-named", "limit-not-named"])
@pytest.mark.parametrize("limit", [1000, 997, 333, 64])  # 997 and 333 divide neither 3000 nor the paging
def test_every_value_arrives_once_whatever_the_server_limit(limit: int, named: bool) -> None:
    source = SyntheticPointSource(tag_count=5, points_per_tag=3000)
    simulator = PiWebApiSimulator(source, max_returned_items_per_call=limit, limit_in_error=named)
    with (
        ServerThread(simulator.app) as server,
        PiWebApiClient(
            server.base_url + "/piwebapi",
            "PISRV01",
            BASIC,
            max_count=CONFIGURED,
            tags_per_request=2,
            concurrency=3,
            policy=TINY_RETRY,
        ) as client,
    ):
        table = concat_points(client.read_points(source.tags(), START, T0))
        expected_limit = limit if named else halved_until(limit)
        assert client.page_limit == expected_limit
        assert f"using maxCount={expected_limit}" in (client.page_limit_reason or "")
    assert table.num_rows == 5 * 3000
    for tag in source.tags():
        truth = source.points(tag, START, T0)
        got = of_tag(table, tag)
        assert np.array_equal(got["ts"].cast("int64").to_numpy(), truth.ts_us)
        assert np.array_equal(got["value"].to_numpy(), truth.value)


@pytest.mark.parametrize("limit", [6, 7, 11])
def test_values_sharing_a_timestamp_at_a_page_boundary_are_neither_lost_nor_repeated(limit: int) -> None:
    """FLOW has five values at one second: pages of 6, 7 and 11 end among or next to them."""
    simulator = PiWebApiSimulator(exact_source(), max_returned_items_per_call=limit)
    with (
        ServerThread(simulator.app) as server,
        PiWebApiClient(
            server.base_url + "/piwebapi", "PISRV01", BASIC, max_count=1000, concurrency=1, policy=TINY_RETRY
        ) as client,
    ):
        table = concat_points(client.read_points(["FLOW"], T0, T0 + timedelta(hours=1)))
        assert client.page_limit == limit
    truth = exact_source().points("FLOW", T0, T0 + timedelta(hours=1))
    assert table["ts"].cast("int64").to_pylist() == [int(t) for t in truth.ts_us]
    assert table["value"].to_pylist() == [float(v) for v in truth.value]


def test_the_limit_is_learnt_once_and_kept_for_later_reads() -> None:
    simulator = PiWebApiSimulator(exact_source(), max_returned_items_per_call=10)
    with (
        ServerThread(simulator.app) as server,
        PiWebApiClient(
            server.base_url + "/piwebapi", "PISRV01", BASIC, max_count=1000, concurrency=1, policy=TINY_RETRY
        ) as client,
    ):
        concat_points(client.read_points(["FLOW"], T0, T0 + timedelta(hours=1)))
        seen = simulator.switches.requests_seen
        concat_points(client.read_points(["FLOW"], T0, T0 + timedelta(hours=1)))
        # 1 WebId lookup + 3 pages of 10 (25 values, 4 repeated at the boundaries): no second 400.
        assert simulator.switches.requests_seen - seen == 1 + 3


def test_interpolated_values_are_rechunked_under_the_server_limit() -> None:
    simulator = PiWebApiSimulator(exact_source(), max_returned_items_per_call=4)
    with (
        ServerThread(simulator.app) as server,
        PiWebApiClient(
            server.base_url + "/piwebapi", "PISRV01", BASIC, max_count=50, policy=TINY_RETRY
        ) as client,
    ):
        table = concat_points(
            client.read_interpolated(["FLOW"], T0, T0 + timedelta(seconds=20), timedelta(seconds=2))
        )
        assert client.page_limit == 4
    assert table["ts"].cast("int64").to_pylist() == [
        int((T0 + timedelta(seconds=s)).timestamp()) * 1_000_000 for s in range(0, 20, 2)
    ]
