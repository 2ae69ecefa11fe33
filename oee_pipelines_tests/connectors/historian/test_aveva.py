"""AVEVA Historian REST connector against the AVEVA simulator: nextLink paging, quality, faults."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from oee_pipelines.connectors.errors import SourceAuthError, SourceSystemError
from oee_pipelines.connectors.historian.aveva import AvevaHistorianClient, opc_to_quality
from oee_pipelines.connectors.historian.points import RAW_POINT_SCHEMA, concat_points
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines_tests.support.historian import SECOND_US, T0, T0_US, exact_source

END = T0 + timedelta(hours=1)


def test_next_link_paging_returns_every_value_once_in_order(
    aveva_client: AvevaHistorianClient, aveva_simulator: AvevaHistorianSimulator
) -> None:
    seen_before = aveva_simulator.switches.requests_seen
    pages = list(aveva_client.read_process_values(["FLOW"], T0, END))
    flow = exact_source().points("FLOW", T0, END)
    table = concat_points(pages)
    assert [page.num_rows for page in pages] == [7, 7, 7, 4]  # page size 7
    assert aveva_simulator.switches.requests_seen == seen_before + 4
    assert table["ts"].cast("int64").to_pylist() == flow.ts_us.tolist()
    assert table["value"].to_pylist() == flow.value.tolist()


def test_time_filter_is_start_inclusive_end_exclusive(aveva_client: AvevaHistorianClient) -> None:
    table = concat_points(
        aveva_client.read_process_values(["FLOW"], T0 + timedelta(seconds=10), T0 + timedelta(seconds=12))
    )
    assert table["ts"].cast("int64").to_pylist() == [T0_US + 10 * SECOND_US] * 5 + [T0_US + 11 * SECOND_US]


def test_opc_quality_and_text_are_mapped(aveva_client: AvevaHistorianClient) -> None:
    table = concat_points(aveva_client.read_process_values(["BAD", "STATE"], T0, END))
    by_tag = {
        tag: table.filter(table["tag"].cast("string").to_numpy(zero_copy_only=False) == tag)
        for tag in ("BAD", "STATE")
    }
    assert by_tag["BAD"]["quality"].to_pylist() == [100, 0, 0, 50, 100]  # substituted is OPC 216: good
    assert by_tag["BAD"]["value"].to_pylist()[1:3] == [None, None]
    assert by_tag["STATE"]["text_value"].to_pylist() == ["RUNNING", "BRK-MECH", "RUNNING"]


def test_opc_quality_bits() -> None:
    codes = np.array([192, 216, 64, 84, 0, 24, 128])
    assert opc_to_quality(codes).tolist() == [100, 100, 50, 50, 0, 0, 0]


def test_analog_summary_gives_interval_averages(aveva_client: AvevaHistorianClient) -> None:
    table = concat_points(
        aveva_client.read_analog_summary(["FLOW"], T0, T0 + timedelta(seconds=20), timedelta(seconds=10))
    )
    flow = exact_source().points("FLOW", T0, END)
    first, second = (
        flow.value[flow.ts_us < T0_US + 10 * SECOND_US],
        flow.value[(flow.ts_us >= T0_US + 10 * SECOND_US) & (flow.ts_us < T0_US + 20 * SECOND_US)],
    )
    assert table["ts"].cast("int64").to_pylist() == [T0_US, T0_US + 10 * SECOND_US]
    assert table["value"].to_pylist() == pytest.approx([first.mean(), second.mean()])
    assert table["quality"].to_pylist() == [100, 100]


def test_empty_range_and_expired_password_and_retried_500(
    aveva_client: AvevaHistorianClient, aveva_simulator: AvevaHistorianSimulator
) -> None:
    empty = concat_points(aveva_client.read_process_values(["FLOW"], T0 - timedelta(days=1), T0))
    assert empty.num_rows == 0 and empty.schema == RAW_POINT_SCHEMA
    aveva_simulator.switches.fail_next = 2
    assert concat_points(aveva_client.read_process_values(["FLOW"], T0, END)).num_rows == 25
    aveva_simulator.login.expire_password()
    with pytest.raises(SourceAuthError):
        concat_points(aveva_client.read_process_values(["FLOW"], T0, END))


def test_unknown_tag_is_a_named_error(aveva_client: AvevaHistorianClient) -> None:
    with pytest.raises(SourceSystemError, match="ProcessValues of NOPE") as raised:
        concat_points(aveva_client.read_process_values(["NOPE"], T0, END))
    assert raised.value.status_code == 404
