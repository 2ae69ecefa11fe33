"""PI Web API connector against the PI simulator on loopback: paging, values, quality, faults, auth."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oee_pipelines.connectors.errors import SourceAuthError, SourceDataError, SourceSystemError
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import RAW_POINT_SCHEMA, HistorianCredentials, concat_points
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import InMemoryPointSource, SyntheticPointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.historian import (
    BASIC,
    SECOND_US,
    T0,
    T0_US,
    TINY_RETRY,
    exact_source,
    numeric_points,
)

END = T0 + timedelta(hours=1)


def client_for(server: ServerThread, max_count: int, **options: object) -> PiWebApiClient:
    return PiWebApiClient(
        server.base_url + "/piwebapi", "PISRV01", BASIC, max_count=max_count, policy=TINY_RETRY, **options
    )


def of_tag(table: pa.Table, tag: str) -> pa.Table:
    return table.filter(pc.equal(table["tag"].cast(pa.string()), tag))


def expected_flow() -> tuple[list[int], list[float]]:
    flow = exact_source().points("FLOW", T0, END)
    return [int(t) for t in flow.ts_us], [float(v) for v in flow.value]


@pytest.mark.parametrize("max_count", range(6, 27))
def test_paging_over_max_count_neither_loses_nor_repeats_values_sharing_the_boundary_time(
    pi_server: ServerThread, max_count: int
) -> None:
    with client_for(pi_server, max_count) as client:
        table = concat_points(client.read_recorded(["FLOW"], T0, END))
    ts_us, values = expected_flow()
    assert table["ts"].cast("int64").to_pylist() == ts_us
    assert table["value"].to_pylist() == values  # equal timestamps keep their order, none twice


def test_streamsets_page_each_stream_on_its_own_and_keep_tags_apart(pi_server: ServerThread) -> None:
    with client_for(pi_server, 7, tags_per_request=3, concurrency=2) as client:
        table = concat_points(client.read_recorded(["FLOW", "STATE", "BAD"], T0, END))
    counts = {tag: of_tag(table, tag).num_rows for tag in ("FLOW", "STATE", "BAD")}
    assert counts == {"FLOW": 25, "STATE": 3, "BAD": 5}
    flow = of_tag(table, "FLOW")
    assert flow["value"].to_pylist() == expected_flow()[1]


def test_range_end_is_exclusive_and_start_inclusive(pi_client: PiWebApiClient) -> None:
    table = concat_points(
        pi_client.read_recorded(["FLOW"], T0 + timedelta(seconds=10), T0 + timedelta(seconds=12))
    )
    assert table["ts"].cast("int64").to_pylist() == [T0_US + 10 * SECOND_US] * 5 + [T0_US + 11 * SECOND_US]


def test_digital_states_give_name_and_value(pi_client: PiWebApiClient) -> None:
    table = concat_points(pi_client.read_recorded(["STATE"], T0, END))
    assert table.select(["value", "text_value", "quality"]).to_pylist() == [
        {"value": 1.0, "text_value": "RUNNING", "quality": 100},
        {"value": 0.0, "text_value": "BRK-MECH", "quality": 100},
        {"value": 1.0, "text_value": "RUNNING", "quality": 100},
    ]


def test_system_states_and_error_objects_are_bad_and_flags_map_to_quality(pi_client: PiWebApiClient) -> None:
    table = concat_points(pi_client.read_recorded(["BAD"], T0, END))
    rows = table.select(["value", "text_value", "quality"]).to_pylist()
    assert [row["quality"] for row in rows] == [100, 0, 0, 50, 75]
    assert rows[1]["text_value"] == "I/O Timeout" and rows[1]["value"] is None
    assert rows[2]["value"] is None and "bad" in rows[2]["text_value"].lower()
    assert [rows[i]["value"] for i in (0, 3, 4)] == [1.0, 4.0, 5.0]


def test_a_range_without_data_is_an_empty_table_with_the_schema(pi_client: PiWebApiClient) -> None:
    table = concat_points(pi_client.read_recorded(["FLOW"], T0 - timedelta(days=2), T0 - timedelta(days=1)))
    assert table.num_rows == 0
    assert table.schema == RAW_POINT_SCHEMA


def test_expired_password_is_an_auth_error_without_retry(
    pi_client: PiWebApiClient, pi_simulator: PiWebApiSimulator
) -> None:
    pi_simulator.login.expire_password()
    seen_before = pi_simulator.switches.requests_seen
    with pytest.raises(SourceAuthError) as raised:
        concat_points(pi_client.read_recorded(["FLOW"], T0, END))
    assert raised.value.status_code == 401 and raised.value.system == "pi"
    assert pi_simulator.switches.requests_seen == seen_before + 1


def test_bearer_token_is_accepted(pi_server: ServerThread) -> None:
    bearer = HistorianCredentials(bearer_token="historian-token")
    with PiWebApiClient(
        pi_server.base_url + "/piwebapi", "PISRV01", bearer, max_count=100, policy=TINY_RETRY
    ) as client:
        assert concat_points(client.read_recorded(["STATE"], T0, END)).num_rows == 3


def test_a_500_in_the_middle_of_a_range_is_retried_and_the_result_is_complete(
    pi_client: PiWebApiClient, pi_simulator: PiWebApiSimulator
) -> None:
    pages = pi_client.read_recorded(["FLOW"], T0, END)
    first = next(pages)  # one tag, concurrency 1: the next page is asked for only when we go on
    pi_simulator.switches.fail_next = 2
    seen_before = pi_simulator.switches.requests_seen
    table = concat_points([first, *pages])
    assert table["value"].to_pylist() == expected_flow()[1]
    assert pi_simulator.switches.requests_seen == seen_before + 4  # 2 failures + 2 remaining pages
    assert pi_simulator.switches.fail_next == 0


def test_web_exception_inside_a_streamset_names_the_tag(
    pi_server: ServerThread, pi_simulator: PiWebApiSimulator
) -> None:
    pi_simulator.failing_tags.add("STATE")
    with client_for(pi_server, 100, tags_per_request=3) as client, pytest.raises(SourceSystemError) as raised:
        concat_points(client.read_recorded(["FLOW", "STATE"], T0, END))
    assert raised.value.status_code == 502
    assert "STATE" in str(raised.value) and "PI Data Archive connection lost" in str(raised.value)


def test_max_count_above_the_server_cap_uses_the_limit_the_errors_body_names(pi_server: ServerThread) -> None:
    # Issue 14 item 6 replaced "fails with the 400" by "carries on with the server's limit".
    with client_for(pi_server, 5000) as client:
        table = concat_points(client.read_recorded(["FLOW"], T0, END))
        assert client.page_limit == 1000
        assert "MaxReturnedItemsPerCall is 1000" in (client.page_limit_reason or "")
    assert table["value"].to_pylist() == expected_flow()[1]


def test_a_server_that_refuses_every_count_reports_the_errors_body() -> None:
    refusing = PiWebApiSimulator(exact_source(), max_returned_items_per_call=0)
    with (
        ServerThread(refusing.app) as server,
        client_for(server, 5000) as client,
        pytest.raises(SourceSystemError) as raised,
    ):
        concat_points(client.read_recorded(["FLOW"], T0, END))
    assert raised.value.status_code == 400
    assert "greater than the maximum allowed (0)" in str(raised.value)


def test_unknown_tags_are_named(pi_client: PiWebApiClient) -> None:
    with pytest.raises(SourceDataError, match="unknown tags: NOPE"):
        pi_client.web_ids(["FLOW", "NOPE"])
    assert pi_client.web_id("FLOW") == pi_client.web_ids(["FLOW"])["FLOW"]


def test_more_values_at_one_timestamp_than_max_count_is_refused_not_looped() -> None:
    crowded = InMemoryPointSource({"HOT": numeric_points([0, 1, 1, 1, 1, 2])})
    with (
        ServerThread(PiWebApiSimulator(crowded).app) as server,
        client_for(server, 4) as client,
        pytest.raises(SourceDataError, match="share one timestamp"),
    ):
        concat_points(client.read_recorded(["HOT"], T0, END))


def test_interpolated_values_are_chunked_under_the_cap(pi_server: ServerThread) -> None:
    with client_for(pi_server, 4) as client:
        table = concat_points(
            client.read_interpolated(["FLOW"], T0, T0 + timedelta(seconds=20), timedelta(seconds=2))
        )
    assert table["ts"].cast("int64").to_pylist() == [T0_US + s * SECOND_US for s in range(0, 20, 2)]
    flow = exact_source().points("FLOW", T0, END)
    expected = np.interp(table["ts"].cast("int64").to_numpy(), flow.ts_us, flow.value)
    assert table["value"].to_pylist() == pytest.approx(list(expected))


def test_many_tags_many_pages_arrive_complete_with_concurrency() -> None:
    source = SyntheticPointSource(tag_count=7, points_per_tag=3000)
    with (
        ServerThread(PiWebApiSimulator(source, max_returned_items_per_call=1000).app) as server,
        client_for(server, 1000, tags_per_request=3, concurrency=3) as client,
    ):
        pages = list(client.read_recorded(source.tags(), T0.replace(day=1), T0))
    table = concat_points(pages)
    # 3 groups x 4 pages (each re-query repeats the boundary value): paging is per group, not per tag.
    assert len(pages) == 12
    assert table.num_rows == 7 * 3000
    for tag in source.tags():
        values = of_tag(table, tag)["value"].to_numpy()
        assert np.array_equal(values, source.points(tag, T0.replace(day=1), T0).value)
