"""Tag mapping: scale/offset, counters (increment, cumulative with reset and rollover), unmapped report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from oee_pipelines.connectors.historian.points import points_table
from oee_pipelines.domain.tag_mapping import TagMapper, UnmappedTag
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA

T0 = datetime(2025, 1, 6, tzinfo=UTC)
T0_US = int(T0.timestamp()) * 1_000_000
MINUTE_US = 60_000_000


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
        "line_id": "LINE-001",
    }
    row.update(overrides)
    return row


def points(rows: list[tuple[str, int, float | None, str | None, int]]) -> pa.Table:
    tags = sorted({row[0] for row in rows})
    return points_table(
        tags,
        np.array([tags.index(row[0]) for row in rows], np.int32),
        np.array([T0_US + row[1] * MINUTE_US for row in rows], np.int64),
        np.array([np.nan if row[2] is None else row[2] for row in rows]),
        [row[3] for row in rows],
        np.array([row[4] for row in rows], np.int16),
    )


def test_scale_and_offset_convert_raw_units_and_keep_quality_and_source_ref() -> None:
    mapper = TagMapper(
        pd.DataFrame([mapping("P1", "pressure", unit="bar", scale_factor=0.01, offset_value=-1.0)]), "pi"
    )
    result = mapper.map(points([("P1", 0, 250.0, None, 100), ("P1", 1, 300.0, None, 50)]))
    table = result.telemetry
    assert table.schema == TELEMETRY_SCHEMA
    assert table["value"].to_pylist() == pytest.approx([1.5, 2.0])
    assert table["quality"].to_pylist() == [100, 50]
    assert table["unit"].to_pylist() == ["bar", "bar"]
    assert table["source_ref"].to_pylist() == ["P1", "P1"]
    assert table["source_system"].to_pylist() == ["pi", "pi"]
    assert table["line_id"].to_pylist() == ["LINE-001", "LINE-001"]
    assert table["site_id"].null_count == 2
    assert result.unmapped == []


def test_unmapped_tags_are_reported_with_point_counts_across_pages() -> None:
    mapper = TagMapper(pd.DataFrame([mapping("P1", "pressure")]), "pi")
    first = mapper.map(
        points([("P1", 0, 1.0, None, 100), ("X9", 0, 2.0, None, 100), ("X9", 1, 3.0, None, 100)])
    )
    mapper.map(points([("X9", 2, 4.0, None, 100), ("Y1", 2, 4.0, None, 100)]))
    assert first.telemetry.num_rows == 1
    assert first.unmapped == [UnmappedTag("X9", 2)]
    assert mapper.unmapped() == [UnmappedTag("X9", 3), UnmappedTag("Y1", 1)]


def test_other_systems_and_inactive_mappings_do_not_map() -> None:
    frame = pd.DataFrame(
        [mapping("P1", "pressure", historian_system="aveva"), mapping("P2", "pressure", is_active=False)]
    )
    result = TagMapper(frame, "pi").map(points([("P1", 0, 1.0, None, 100), ("P2", 0, 1.0, None, 100)]))
    assert result.telemetry.num_rows == 0
    assert result.unmapped == [UnmappedTag("P1", 1), UnmappedTag("P2", 1)]


def test_cumulative_counter_becomes_increments_through_reset_and_rollover() -> None:
    frame = pd.DataFrame(
        [mapping("C", "pieces_good", counter_mode="cumulative", counter_rollover=1000.0, unit="pcs")]
    )
    readings = [990.0, 995.0, 5.0, 12.0, 3.0, 7.0]  # 995 -> 5: wrap (+10); 12 -> 3: reset (+3)
    result = TagMapper(frame, "pi").map(points([("C", i, v, None, 100) for i, v in enumerate(readings)]))
    assert result.telemetry["value"].to_pylist() == [5.0, 10.0, 7.0, 3.0, 4.0]
    assert result.telemetry["ts"][0].as_py() == T0 + timedelta(minutes=1)


def test_counter_without_rollover_treats_every_drop_as_a_reset() -> None:
    frame = pd.DataFrame([mapping("C", "pieces_good", counter_mode="cumulative")])
    result = TagMapper(frame, "pi").map(points([("C", 0, 900.0, None, 100), ("C", 1, 20.0, None, 100)]))
    assert result.telemetry["value"].to_pylist() == [20.0]


def test_counter_state_carries_across_pages_and_interleaved_tags() -> None:
    frame = pd.DataFrame(
        [
            mapping("A", "pieces_good", counter_mode="cumulative", counter_rollover=65536.0),
            mapping(
                "B", "pieces_rejected", counter_mode="cumulative", counter_rollover=65536.0, scale_factor=2.0
            ),
        ]
    )
    mapper = TagMapper(frame, "pi", emit_from=T0 + timedelta(minutes=1))
    first = mapper.map(
        points([("A", 0, 100.0, None, 100), ("B", 0, 10.0, None, 100), ("A", 1, 103.0, None, 100)])
    )
    second = mapper.map(
        points([("B", 1, 11.0, None, 100), ("A", 2, 0.0, None, 0), ("A", 3, 110.0, None, 100)])
    )
    assert first.telemetry.select(["source_ref", "value"]).to_pylist() == [{"source_ref": "A", "value": 3.0}]
    # B: (11 - 10) * 2; A: the bad reading gives no row and does not break the chain (110 - 103).
    assert second.telemetry.select(["source_ref", "value"]).to_pylist() == [
        {"source_ref": "B", "value": 2.0},
        {"source_ref": "A", "value": 7.0},
    ]


def test_increment_counters_and_machine_state_values() -> None:
    frame = pd.DataFrame(
        [mapping("G", "pieces_good", counter_mode="increment"), mapping("S", "machine_state")]
    )
    rows = [("G", 0, 4.0, None, 100), ("S", 0, 7.0, "RUNNING", 100), ("S", 1, 3.0, "BRK-MECH", 100)]
    result = TagMapper(frame, "pi").map(points(rows))
    assert result.telemetry.select(["signal", "value", "text_value"]).to_pylist() == [
        {"signal": "pieces_good", "value": 4.0, "text_value": None},
        {"signal": "machine_state", "value": 1.0, "text_value": "RUNNING"},
        {"signal": "machine_state", "value": 0.0, "text_value": "BRK-MECH"},
    ]


def test_empty_page_gives_empty_telemetry_and_bad_mappings_are_refused() -> None:
    mapper = TagMapper(pd.DataFrame([mapping("P1", "pressure")]), "pi")
    result = mapper.map(points([]))
    assert result.telemetry.num_rows == 0 and result.telemetry.schema == TELEMETRY_SCHEMA
    with pytest.raises(ValueError, match="counter_mode 'sometimes'"):
        TagMapper(pd.DataFrame([mapping("P1", "pressure", counter_mode="sometimes")]), "pi")
    with pytest.raises(ValueError, match="lack columns: scale_factor"):
        TagMapper(pd.DataFrame([mapping("P1", "pressure")]).drop(columns=["scale_factor"]), "pi")
