"""`oee_readings` is computed once per day for the four OEE assets of a process (issue 19 item 7), and
never served stale: a rebuilt enriched day, a late raw file of a neighbouring day, changed range rules
or a changed plan are a new key. The cache is bounded, and each caller gets its own copy.

The lake is a real local lake; `compute` stands for the work `oee_readings` does, reading the lake, and
counts its calls. `clean_table` is checked against the pandas round trip it replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from oee_pipelines.domain.enrichment import ProductionContext
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA, to_telemetry_table
from oee_pipelines.services.oee.inputs import (
    DayPlan,
    PlantReference,
    ReadingsCache,
    clean_readings,
    clean_table,
    enriched_folder,
)
from oee_pipelines.storage.lake import Lake

DAY = date(2025, 1, 14)


def _telemetry(day: date, machine: str, values: list[float], signal: str = "pieces_good") -> pa.Table:
    start = pd.Timestamp(day.isoformat(), tz="UTC")
    frame = pd.DataFrame(
        {
            "org_id": "demo",
            "site_id": "S1",
            "line_id": "L1",
            "machine_id": machine,
            "signal": signal,
            "ts": [start + pd.Timedelta(minutes=i) for i in range(len(values))],
            "value": values,
            "text_value": None,
            "unit": None,
            "quality": 100,
            "source_system": "mqtt",
            "source_ref": None,
            "ingest_run_id": "run-1",
        }
    )
    return to_telemetry_table(frame)


def _raw_file(day: date, source: str = "mqtt", hour: int = 0) -> str:
    return f"telemetry/source={source}/{Lake.date_folder(day)}/hour={hour:02d}.parquet"


def _reference(maximum: float = 100.0) -> PlantReference:
    empty = pd.DataFrame()
    ranges = pd.DataFrame(
        {
            "machine_id": ["M1"],
            "signal_type": ["temperature"],
            "min_value": [0.0],
            "max_value": [maximum],
            "violation_action": ["REJECT"],
            "is_active": [True],
        }
    )
    return PlantReference(
        *([empty] * 7), sensor_ranges=ranges, iot_sensors=empty, machine_cycle_times=empty, products=empty
    )  # type: ignore[misc]


def _plan(schedule_end: str = "2025-01-14 12:00") -> DayPlan:
    schedules = pd.DataFrame(
        {
            "line_id": ["L1"],
            "start": [pd.Timestamp("2025-01-14 06:00", tz="UTC")],
            "end": [pd.Timestamp(schedule_end, tz="UTC")],
            "work_order_id": ["WO1"],
        }
    )
    context = ProductionContext(
        schedules=schedules,
        shifts=pd.DataFrame({"line_id": ["L1"]}),
        operators=pd.DataFrame({"line_id": []}),
        machine_lines=pd.DataFrame({"machine_id": ["M1"], "line_id": ["L1"]}),
    )
    return DayPlan(DAY, pd.DataFrame(), context, pd.DataFrame(), pd.DataFrame())


class Counted:
    """What `oee_readings` does, in short: read every file it depends on; counts its calls."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.calls = 0

    def __call__(self) -> pd.DataFrame:
        self.calls += 1
        tables = [self.lake.read_folder(enriched_folder(DAY), TELEMETRY_SCHEMA)]
        for day in (DAY - timedelta(days=1), DAY + timedelta(days=1)):
            for path in sorted(
                self.lake.fs.glob(self.lake.path("telemetry", "source=*", Lake.date_folder(day), "*"))
            ):
                tables.append(pa.parquet.read_table(path, schema=TELEMETRY_SCHEMA))
        return pa.concat_tables(tables).to_pandas()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    lake.replace_folder(enriched_folder(DAY), {"part-0.parquet": _telemetry(DAY, "M1", [1.0, 2.0, 3.0])})
    lake.write_file(_raw_file(DAY - timedelta(days=1)), _telemetry(DAY - timedelta(days=1), "M1", [9.0]))
    lake.write_file(_raw_file(DAY + timedelta(days=1)), _telemetry(DAY + timedelta(days=1), "M1", [4.0]))
    return lake


def _ask(
    cache: ReadingsCache, lake: Lake, compute: Callable[[], pd.DataFrame], **changes: object
) -> pd.DataFrame:
    reference = changes.get("reference", _reference())
    plan = changes.get("plan", _plan())
    return cache.get_or_compute(lake, changes.get("day", DAY), reference, plan, compute)  # type: ignore[arg-type]


def test_the_second_ask_is_served_from_the_cache_and_each_caller_gets_its_own_copy(lake: Lake) -> None:
    cache, compute = ReadingsCache(), Counted(lake)
    first = _ask(cache, lake, compute)
    first.loc[0, "value"] = -1.0  # a caller changing its frame changes nobody else's
    second = _ask(cache, lake, compute)
    assert compute.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    assert second["value"].tolist() == [1.0, 2.0, 3.0, 9.0, 4.0]
    second.loc[1, "value"] = -2.0
    assert _ask(cache, lake, compute)["value"].tolist() == [1.0, 2.0, 3.0, 9.0, 4.0]
    # Warehouse inputs rebuilt with equal contents (as every asset rebuilds them) are the same key.
    assert _ask(cache, lake, compute, reference=_reference(), plan=_plan()) is not None
    assert compute.calls == 1


@pytest.mark.parametrize(
    "change",
    [
        "rebuilt enriched day",
        "same enriched day written again",
        "late raw file of the next day",
        "raw file of the day before replaced",
        "raw folder of the next day removed",
    ],
)
def test_a_changed_lake_file_is_never_served_stale(lake: Lake, change: str) -> None:
    cache, compute = ReadingsCache(), Counted(lake)
    assert _ask(cache, lake, compute)["value"].tolist() == [1.0, 2.0, 3.0, 9.0, 4.0]
    before, after = DAY - timedelta(days=1), DAY + timedelta(days=1)
    if change == "rebuilt enriched day":
        lake.replace_folder(enriched_folder(DAY), {"part-0.parquet": _telemetry(DAY, "M1", [1.0, 2.0, 7.0])})
        expected = [1.0, 2.0, 7.0, 9.0, 4.0]
    elif change == "same enriched day written again":
        lake.replace_folder(enriched_folder(DAY), {"part-0.parquet": _telemetry(DAY, "M1", [1.0, 2.0, 3.0])})
        expected = [1.0, 2.0, 3.0, 9.0, 4.0]
    elif change == "late raw file of the next day":
        lake.write_file(_raw_file(after, "pi", 1), _telemetry(after, "M1", [5.0]))
        expected = [1.0, 2.0, 3.0, 9.0, 5.0, 4.0]
    elif change == "raw file of the day before replaced":
        lake.write_file(_raw_file(before), _telemetry(before, "M1", [8.0]))
        expected = [1.0, 2.0, 3.0, 8.0, 4.0]
    else:
        lake.remove_folder(f"telemetry/source=mqtt/{Lake.date_folder(after)}")
        expected = [1.0, 2.0, 3.0, 9.0]
    assert sorted(_ask(cache, lake, compute)["value"].tolist()) == sorted(expected)
    assert compute.calls == 2
    # Files of days the readings do not read change nothing.
    lake.write_file(_raw_file(DAY + timedelta(days=2)), _telemetry(DAY + timedelta(days=2), "M1", [6.0]))
    lake.write_file(_raw_file(DAY), _telemetry(DAY, "M1", [6.0]))
    _ask(cache, lake, compute)
    assert compute.calls == 2


def test_changed_range_rules_or_plan_are_a_new_key(lake: Lake) -> None:
    cache, compute = ReadingsCache(), Counted(lake)
    _ask(cache, lake, compute)
    _ask(cache, lake, compute, reference=_reference(maximum=50.0))
    assert compute.calls == 2
    _ask(cache, lake, compute, plan=_plan(schedule_end="2025-01-14 13:00"))
    assert compute.calls == 3
    _ask(cache, lake, compute)  # the first inputs again: still kept
    assert compute.calls == 3


def test_files_changing_while_computed_are_not_kept(lake: Lake) -> None:
    cache, compute = ReadingsCache(), Counted(lake)

    def computed_during_a_late_landing() -> pd.DataFrame:
        readings = compute()
        lake.write_file(
            _raw_file(DAY + timedelta(days=1), "http", 2), _telemetry(DAY + timedelta(days=1), "M1", [5.0])
        )
        return readings

    _ask(cache, lake, computed_during_a_late_landing)
    assert len(cache) == 0
    assert 5.0 in _ask(cache, lake, compute)["value"].tolist()
    assert compute.calls == 2


def test_the_cache_is_bounded_in_days_and_rows(lake: Lake) -> None:
    cache = ReadingsCache(max_entries=2, max_rows=10)
    computed: list[date] = []

    def for_day(day: date, rows: int) -> Callable[[], pd.DataFrame]:
        def compute() -> pd.DataFrame:
            computed.append(day)
            return pd.DataFrame({"value": np.arange(rows, dtype=float)})

        return compute

    days = [DAY + timedelta(days=offset) for offset in range(3)]
    for day in days:
        _ask(cache, lake, for_day(day, 3), day=day)
    assert len(cache) == 2
    _ask(cache, lake, for_day(days[2], 3), day=days[2])  # kept
    _ask(cache, lake, for_day(days[0], 3), day=days[0])  # least recently used: evicted, computed again
    assert computed == [*days, days[0]]
    # More rows than the bound: answered, not kept; the rows kept stay within the bound.
    assert len(_ask(cache, lake, for_day(days[1], 11), day=days[1])) == 11
    _ask(cache, lake, for_day(days[1], 11), day=days[1])
    assert computed[-2:] == [days[1], days[1]]
    _ask(cache, lake, for_day(days[1], 8), day=days[1] + timedelta(days=5))
    assert len(cache) == 1


def test_clean_table_is_the_pandas_round_trip_it_replaces() -> None:
    frame = pd.concat(
        [
            _telemetry(DAY, "M1", [50.0, 150.0, np.nan, 50.0], signal="temperature").to_pandas(),
            _telemetry(DAY, "M2", [1.0, 1.0, np.nan], signal="temperature").to_pandas(),
        ],
        ignore_index=True,
    )
    frame.loc[1, "ts"] = frame.loc[0, "ts"]  # a duplicate of the first reading: removed
    frame.loc[3, "ts"] = frame.loc[0, "ts"] + pd.Timedelta(milliseconds=10)
    frame.loc[4, "quality"] = None
    raw = to_telemetry_table(frame)
    reference = _reference()
    reference.sensor_ranges.loc[1] = ["M2", "temperature", 5.0, 10.0, "DEGRADE", True]
    expected = to_telemetry_table(clean_readings(raw.to_pandas(), reference).frame)
    cleaned = clean_table(raw, reference)
    assert cleaned.table.equals(expected, check_metadata=True)
    assert cleaned.table.num_rows == 5  # the rejected 150 and the duplicate 50 removed
    assert cleaned.table["quality"].to_pylist() == [100, 100, 50, 50, 100]  # M2 below its DEGRADE range
    assert cleaned.table["value"].null_count == 2 and expected["value"].null_count == 2


def test_clean_table_turns_a_raw_nan_value_into_a_null_as_pandas_did() -> None:
    raw = _telemetry(DAY, "M1", [1.0, 2.0, 3.0], signal="temperature")
    with_nan = pa.array([1.0, float("nan"), None], pa.float64(), from_pandas=False)
    raw = raw.set_column(raw.schema.get_field_index("value"), TELEMETRY_SCHEMA.field("value"), with_nan)
    assert raw["value"].null_count == 1  # the NaN is a value in Arrow, not a null
    reference = _reference()
    expected = to_telemetry_table(clean_readings(raw.to_pandas(), reference).frame)
    cleaned = clean_table(raw, reference)
    assert cleaned.table.equals(expected, check_metadata=True)
    assert cleaned.table["value"].null_count == 2
