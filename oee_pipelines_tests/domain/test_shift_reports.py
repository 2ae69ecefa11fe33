"""Shift reports: time-weighted line OEE per shift instance, top reasons, operators, draft/final."""

from __future__ import annotations

import pandas as pd
import pytest

from oee_pipelines.domain.downtime import downtime_events
from oee_pipelines.domain.oee import compute_snapshots
from oee_pipelines.domain.shift_reports import build_shift_reports, reading_watermarks
from oee_pipelines_tests.support.telemetry_rows import minute_counters, state, utc

OPERATORS = pd.DataFrame(
    {
        "line_id": "L1",
        "shift_id": ["SHIFT-1", "SHIFT-2", "SHIFT-2"],
        "shift_date": pd.Timestamp("2025-01-06").date(),
        "operator_id": ["OP-1", "OP-3", "OP-2"],
    }
)


@pytest.fixture
def inputs(timeline_of, line_shifts, machines):
    rows = [
        state("M1", "2025-01-06 09:00", "RUNNING"),
        state("M2", "2025-01-06 09:00", "RUNNING"),
        *minute_counters("M1", "2025-01-06 09:00", "2025-01-06 11:00"),
        *minute_counters("M2", "2025-01-06 09:00", "2025-01-06 11:00"),
        state("M1", "2025-01-06 10:05", "BRK-MECH"),
        state("M1", "2025-01-06 10:25", "RUNNING"),
        state("M2", "2025-01-06 10:30", "CHANGEOVER"),
        state("M2", "2025-01-06 10:35", "RUNNING"),
        state("M2", "2025-01-06 10:40", "BRK-MECH"),
        state("M2", "2025-01-06 10:43", "RUNNING"),
    ]
    timeline = timeline_of(rows)
    counters = pd.DataFrame(rows).assign(ideal_cycle_time_s=30.0)
    schedules = pd.DataFrame(columns=["line_id", "start", "end", "work_order_id"])
    snapshots = compute_snapshots(
        timeline=timeline, line_shifts=line_shifts, machines=machines, counters=counters, schedules=schedules
    )
    return {
        "snapshots": snapshots,
        "downtime_events": downtime_events(timeline, line_shifts, machines),
        "line_shifts": line_shifts,
        "operator_shifts": OPERATORS,
        "machines": machines,
        "watermarks": reading_watermarks(pd.DataFrame(rows)),
    }


def test_report_sums_the_lines_machines_and_lists_reasons_and_operators(inputs) -> None:
    reports = build_shift_reports(**inputs, now=utc("2025-01-06 12:00")).set_index("shift_id")
    late = reports.loc["SHIFT-2"]
    # 10:15-11:00 of snapshots (the range), two machines: 90 planned machine-minutes.
    assert late["planned_production_time"] == 90.0
    assert late["actual_production_time"] == 90.0 - 10.0 - 5.0 - 3.0
    assert late["availability_pct"] == pytest.approx(100 * 72 / 90)
    assert late["downtime_minutes"] == 18.0
    assert late["top_downtime_reasons"] == [
        {
            "reason_code": "BRK-MECH",
            "loss_category": "breakdowns",
            "is_planned": False,
            "minutes": 13.0,
            "events": 2,
        },
        {
            "reason_code": "CHANGEOVER",
            "loss_category": "setup_adjustments",
            "is_planned": False,
            "minutes": 5.0,
            "events": 1,
        },
    ]
    assert late["operator_ids"] == ["OP-2", "OP-3"]
    assert late["total_pieces"] == 2 * 45 and late["good_pieces"] == 90


def test_status_is_draft_until_the_shift_ended_and_the_data_arrived(inputs) -> None:
    during = build_shift_reports(**inputs, now=utc("2025-01-06 11:00")).set_index("shift_id")["status"]
    assert dict(during) == {"SHIFT-1": "final", "SHIFT-2": "draft"}
    after = build_shift_reports(**inputs, now=utc("2025-01-07 00:00")).set_index("shift_id")["status"]
    # Shift 2 ended at 14:00 but data stops at 11:00: still draft.
    assert dict(after) == {"SHIFT-1": "final", "SHIFT-2": "draft"}
    stale = inputs | {"watermarks": inputs["watermarks"].iloc[:1]}
    assert set(build_shift_reports(**stale, now=utc("2025-01-07 00:00"))["status"]) == {"draft"}
