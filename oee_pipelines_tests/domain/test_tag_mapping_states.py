"""State names and codes through a tag's state set (issue 14 item 4): case-insensitive names, numeric
codes, reason codes, unmapped names reported and read as not running, and tags without a set unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from oee_pipelines.connectors.historian.points import points_table
from oee_pipelines.domain.tag_mapping import TagMapper, UnmappedState

T0 = datetime(2025, 1, 6, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
MINUTE_US = 60_000_000

STATES = pd.DataFrame(
    [
        {"org_id": "demo", "state_set": "WAW", "state_key": "run", "running": True, "reason_code": None},
        {
            "org_id": "demo",
            "state_set": "WAW",
            "state_key": "stop",
            "running": False,
            "reason_code": "BRK-MECH",
        },
        {"org_id": "demo", "state_set": "WAW", "state_key": "setup", "running": False, "reason_code": None},
        {"org_id": "demo", "state_set": "WAW", "state_key": "4", "running": False, "reason_code": "STARVED"},
        {"org_id": "other", "state_set": "WAW", "state_key": "idle", "running": True, "reason_code": None},
    ]
)


def mapping(tag: str, signal: str, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "org_id": "demo",
        "historian_system": "pi",
        "historian_tag": tag,
        "machine_id": "MACHINE-001",
        "signal_type": signal,
        "unit": None,
        "scale_factor": 1.0,
        "offset_value": 0.0,
        "counter_mode": "none",
        "counter_rollover": None,
        "is_active": True,
    }
    return row | overrides


def points(rows: list[tuple[str, int, float | None, str | None, int]]) -> pa.Table:
    """(tag, minute after T0, value, text, quality) rows as a raw point table."""
    tags = sorted({row[0] for row in rows})
    return points_table(
        tags,
        np.array([tags.index(row[0]) for row in rows], np.int32),
        np.array([T0_US + row[1] * MINUTE_US for row in rows], np.int64),
        np.array([np.nan if row[2] is None else row[2] for row in rows]),
        [row[3] for row in rows],
        np.array([row[4] for row in rows], np.int16),
    )


def state_mapper(state_set: str | None = "WAW", **options: object) -> TagMapper:
    rows = [mapping("S", "machine_state", state_set=state_set), mapping("P", "pressure", state_set=None)]
    return TagMapper(pd.DataFrame(rows), "pi", state_names=STATES, **options)  # type: ignore[arg-type]


def test_names_match_case_insensitively_and_codes_by_number() -> None:
    result = state_mapper().map(
        points(
            [
                ("S", 0, 0.0, "Run", 100),
                ("S", 1, 1.0, "STOP", 100),
                ("S", 2, 2.0, "setup", 100),
                ("S", 3, 4.0, None, 100),  # a numeric code only
                ("S", 4, 9.0, "rUn", 100),  # the name wins over the number
                ("P", 5, 4.0, None, 100),  # not a state tag: untouched
            ]
        )
    )
    rows = result.telemetry.select(["source_ref", "value", "text_value"]).to_pylist()
    assert rows == [
        {"source_ref": "S", "value": 1.0, "text_value": "RUNNING"},
        {"source_ref": "S", "value": 0.0, "text_value": "BRK-MECH"},
        {"source_ref": "S", "value": 0.0, "text_value": "setup"},  # stopped, no reason code: the name
        {"source_ref": "S", "value": 0.0, "text_value": "STARVED"},
        {"source_ref": "S", "value": 1.0, "text_value": "RUNNING"},
        {"source_ref": "P", "value": 4.0, "text_value": None},
    ]


def test_a_name_may_fall_back_to_its_code_when_only_the_code_is_mapped() -> None:
    result = state_mapper().map(points([("S", 0, 4.0, "Starved", 100)]))
    assert result.telemetry.select(["value", "text_value"]).to_pylist() == [
        {"value": 0.0, "text_value": "STARVED"}
    ]


def test_unmapped_names_are_not_running_and_reported_per_tag_and_name_across_pages() -> None:
    mapper = state_mapper(emit_from=T0)
    first = mapper.map(
        points([("S", -1, 0.0, "Idle", 100), ("S", 0, 0.0, "Idle", 100), ("S", 1, 7.0, None, 100)])
    )
    mapper.map(points([("S", 2, 0.0, "Idle", 100), ("S", 3, 0.0, "Run", 100)]))
    assert first.telemetry.select(["value", "text_value"]).to_pylist() == [
        {"value": 0.0, "text_value": "UNMAPPED:Idle"},
        {"value": 0.0, "text_value": "UNMAPPED:7"},
    ]
    # The reading before emit_from (a look-back) is not reported; "idle" of another org does not apply.
    assert mapper.unmapped_states() == [
        UnmappedState("S", "demo", "MACHINE-001", "WAW", "7", 1, T0 + timedelta(minutes=1)),
        UnmappedState("S", "demo", "MACHINE-001", "WAW", "Idle", 2, T0),
    ]


def test_a_state_set_without_rows_reports_every_name() -> None:
    mapper = state_mapper(state_set="EMPTY")
    result = mapper.map(points([("S", 0, 1.0, "RUNNING", 100)]))
    assert result.telemetry["text_value"].to_pylist() == ["UNMAPPED:RUNNING"]
    assert [state.name for state in mapper.unmapped_states()] == ["RUNNING"]


def test_tags_without_a_state_set_keep_exactly_running_is_running() -> None:
    for mapper in (
        state_mapper(state_set=None),
        TagMapper(pd.DataFrame([mapping("S", "machine_state")]), "pi"),
    ):
        result = mapper.map(points([("S", 0, 0.0, "RUNNING", 100), ("S", 1, 1.0, "Running", 100)]))
        assert result.telemetry.select(["value", "text_value"]).to_pylist() == [
            {"value": 1.0, "text_value": "RUNNING"},
            {"value": 0.0, "text_value": "Running"},
        ]
        assert mapper.unmapped_states() == []


def test_bad_readings_of_a_state_tag_keep_the_old_rule_and_are_not_reported() -> None:
    mapper = state_mapper()
    result = mapper.map(points([("S", 0, None, "I/O Timeout", 0)]))
    assert result.telemetry.select(["value", "text_value", "quality"]).to_pylist() == [
        {"value": 0.0, "text_value": "I/O Timeout", "quality": 0}
    ]
    assert mapper.unmapped_states() == []
