"""Timelines and downtime events: stops from state changes, microstops, precedence, unknown time."""

from __future__ import annotations

import pandas as pd

from oee_pipelines.domain.downtime import DowntimeSettings, downtime_events
from oee_pipelines_tests.support.telemetry_rows import minute_counters, state, utc


def running(machine: str) -> list[dict]:
    return [
        state(machine, "2025-01-06 09:00", "RUNNING"),
        *minute_counters(machine, "2025-01-06 09:00", "2025-01-06 11:05"),
    ]


def kinds(frame: pd.DataFrame, machine: str) -> list[tuple[str, str, str]]:
    rows = frame[frame["machine_id"] == machine]
    return [
        (s.strftime("%H:%M:%S"), e.strftime("%H:%M:%S"), k)
        for s, e, k in zip(rows["start"], rows["end"], rows["kind"], strict=True)
    ]


def test_a_stop_is_classified_by_its_reason_code(timeline_of) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:10", "BREAK"),
        state("M1", "2025-01-06 10:20", "CHANGEOVER"),
        state("M1", "2025-01-06 10:40", "RUNNING"),
    ]
    frame = timeline_of(rows).frame
    assert kinds(frame, "M1") == [
        ("10:00:00", "10:10:00", "running"),
        ("10:10:00", "10:20:00", "planned_stop"),
        ("10:20:00", "10:40:00", "unplanned_stop"),
        ("10:40:00", "11:00:00", "running"),
    ]
    changeover = frame[frame["reason_code"] == "CHANGEOVER"].iloc[0]
    assert changeover["loss_category"] == "setup_adjustments"
    assert kinds(frame, "M2") == [("10:00:00", "11:00:00", "running")]


def test_microstop_is_judged_on_the_whole_stop_not_the_part_inside_the_range(timeline_of) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:20:00", "BRK-MECH"),
        state("M1", "2025-01-06 10:21:59", "RUNNING"),
        state("M1", "2025-01-06 10:30:00", "BRK-MECH"),
        state("M1", "2025-01-06 10:32:00", "RUNNING"),
        # 90 s before the range start + 60 s inside: a 150 s breakdown, not a microstop.
        state("M2", "2025-01-06 09:58:30", "BRK-MECH"),
        state("M2", "2025-01-06 10:01:00", "RUNNING"),
    ]
    frame = timeline_of(rows).frame
    m1 = frame[(frame["machine_id"] == "M1") & (frame["reason_code"] == "BRK-MECH")]
    assert list(m1["kind"]) == ["small_stop", "unplanned_stop"]
    assert list(m1["loss_category"]) == ["small_stops", "breakdowns"]
    assert kinds(frame, "M2")[0] == ("10:00:00", "10:01:00", "unplanned_stop")


def test_microstop_threshold_is_configurable(timeline_of) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:20", "BRK-MECH"),
        state("M1", "2025-01-06 10:23", "RUNNING"),
    ]
    frame = timeline_of(rows, settings=DowntimeSettings(microstop_threshold_seconds=300)).frame
    assert "small_stop" in set(frame["kind"]) and "unplanned_stop" not in set(frame["kind"])


def test_repeated_state_rows_are_one_stop(timeline_of) -> None:
    # A source re-sending the same state (e.g. at a file boundary) does not split the stop into microstops.
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:20", "BRK-MECH"),
        state("M1", "2025-01-06 10:21", "BRK-MECH"),
        state("M1", "2025-01-06 10:22:30", "RUNNING"),
    ]
    frame = timeline_of(rows).frame
    assert kinds(frame, "M1")[1] == ("10:20:00", "10:22:30", "unplanned_stop")


def test_silence_longer_than_the_maximum_gap_is_unknown_time_with_an_alert(timeline_of) -> None:
    rows = [r for r in running("M1") if not utc("2025-01-06 10:20") < r["ts"] < utc("2025-01-06 10:30")]
    rows += running("M2")
    timeline = timeline_of(rows)
    assert kinds(timeline.frame, "M1") == [
        ("10:00:00", "10:20:00", "running"),
        ("10:20:00", "10:30:00", "unknown"),
        ("10:30:00", "11:00:00", "running"),
    ]
    alert = timeline.alerts[timeline.alerts["alert_type"] == "UNKNOWN_TIME"]
    assert list(alert["machine_id"]) == ["M1"] and list(alert["metric_value"]) == [10.0]


def test_a_machine_without_data_is_unknown_for_the_whole_range(timeline_of) -> None:
    timeline = timeline_of(running("M1"))
    assert kinds(timeline.frame, "M2") == [("10:00:00", "11:00:00", "unknown")]
    assert (timeline.alerts["machine_id"] == "M2").sum() == 1


def test_imported_downtime_never_double_counts_a_measured_stop(timeline_of) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:10", "BRK-MECH"),
        state("M1", "2025-01-06 10:20", "RUNNING"),
    ]
    imported = pd.DataFrame(
        {
            "machine_id": ["M1"],
            "start_time": [utc("2025-01-06 10:05")],
            "end_time": [utc("2025-01-06 10:25")],
            "reason_code": ["CHANGEOVER"],
            "source_system": ["mes"],
        }
    )
    frame = timeline_of(rows, imported=imported).frame
    assert kinds(frame, "M1") == [
        ("10:00:00", "10:10:00", "running"),
        ("10:10:00", "10:20:00", "unplanned_stop"),
        ("10:20:00", "11:00:00", "running"),
    ]
    assert set(frame["source_system"]) == {"simulator"}


def test_imported_downtime_fills_time_without_machine_data(timeline_of) -> None:
    imported = pd.DataFrame(
        {
            "machine_id": ["M2", "M2"],
            "start_time": [utc("2025-01-06 10:00"), utc("2025-01-06 10:20")],
            "end_time": [utc("2025-01-06 10:30"), utc("2025-01-06 10:45")],
            "reason_code": ["BREAK", "BRK-MECH"],
            "source_system": ["mes", "import"],
        }
    )
    frame = timeline_of(running("M1"), imported=imported).frame
    # Overlapping imported events: the later one takes over, nothing is counted twice.
    assert kinds(frame, "M2") == [
        ("10:00:00", "10:20:00", "planned_stop"),
        ("10:20:00", "10:45:00", "unplanned_stop"),
        ("10:45:00", "11:00:00", "unknown"),
    ]


def test_unknown_reason_code_is_unplanned_and_alerted(timeline_of) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:10", "MYSTERY"),
        state("M1", "2025-01-06 10:20", "RUNNING"),
    ]
    timeline = timeline_of(rows)
    stop = timeline.frame[timeline.frame["reason_code"] == "MYSTERY"].iloc[0]
    assert stop["kind"] == "unplanned_stop" and stop["loss_category"] == "breakdowns"
    alert = timeline.alerts[timeline.alerts["alert_type"] == "UNKNOWN_REASON_CODE"].iloc[0]
    assert alert["details"] == {"reason_code": "MYSTERY"}


def test_event_through_a_shift_change_stays_one_event_clipped_to_scheduled_time(
    timeline_of, line_shifts, machines
) -> None:
    rows = [
        *running("M1"),
        *running("M2"),
        state("M1", "2025-01-06 10:10", "BRK-MECH"),
        state("M1", "2025-01-06 10:25", "RUNNING"),
        state("M2", "2025-01-06 10:30", "BREAK"),
        state("M2", "2025-01-06 10:50", "RUNNING"),
        state("M1", "2025-01-06 10:40", "STARVED"),
        state("M1", "2025-01-06 10:41", "RUNNING"),
    ]
    shifts = line_shifts.assign(end=[utc("2025-01-06 10:15"), utc("2025-01-06 10:40")])
    events = downtime_events(timeline_of(rows), shifts, machines)
    assert list(zip(events["machine_id"], events["start_time"], events["end_time"], strict=True)) == [
        ("M1", utc("2025-01-06 10:10"), utc("2025-01-06 10:25")),
        ("M2", utc("2025-01-06 10:30"), utc("2025-01-06 10:40")),
    ]
    assert list(events["duration_minutes"]) == [15.0, 10.0]
    assert list(events["is_planned"]) == [False, True]
    assert list(events["line_id"]) == ["L1", "L1"] and set(events["org_id"]) == {"demo"}


def test_a_stop_still_open_at_the_end_is_unresolved(timeline_of, line_shifts, machines) -> None:
    rows = [*running("M1"), *running("M2"), state("M1", "2025-01-06 10:50", "BRK-MECH")]
    events = downtime_events(timeline_of(rows), line_shifts, machines)
    assert list(events["is_resolved"]) == [False]
