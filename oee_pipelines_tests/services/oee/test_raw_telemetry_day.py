"""`raw_telemetry_day` reads a day's files with DuckDB: the same table a pyarrow scan gave, file by file.

The day's files differ as real sources' files do: a column missing, dictionary-encoded strings,
another integer width, nanosecond or tz-naive millisecond timestamps, an extra column, columns in
another order, several row groups, rows not sorted by time. The table must have TELEMETRY_SCHEMA,
the files in path order and each file's rows in its own order; no `source=`/`date=` hive columns,
and nothing from a staging folder below the day.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.services.oee.inputs import raw_telemetry_day
from oee_pipelines.storage.lake import Lake

DAY = date(2025, 1, 6)
BASE_US = 1_736_121_600_000_000  # 2025-01-06 00:00 UTC in microseconds


def _rows(count: int, machine: str, source: str, step_us: int) -> dict[str, list[object]]:
    # Timestamps run backwards: a reader that sorted by time would change the order.
    return {
        "org_id": ["demo"] * count,
        "site_id": ["SITE-01"] * count,
        "line_id": ["LINE-1"] * count,
        "machine_id": [machine] * count,
        "signal": ["temperature" if i % 3 else "machine_state" for i in range(count)],
        "ts": [BASE_US + (count - i) * step_us for i in range(count)],
        "value": [float(i) / 4 for i in range(count)],
        "text_value": [None if i % 3 else "RUNNING" for i in range(count)],
        "unit": ["degC" if i % 3 else None for i in range(count)],
        "quality": [100 if i % 5 else 50 for i in range(count)],
        "source_system": [source] * count,
        "source_ref": [f"ref-{i}" if i % 2 else None for i in range(count)],
        "ingest_run_id": ["run-1"] * count,
    }


def _write(lake_root: Path, source: str, name: str, table: pa.Table, **options: object) -> None:
    folder = lake_root / "telemetry" / f"source={source}" / f"date={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / name, **options)  # type: ignore[arg-type]


@pytest.fixture
def mixed_day(tmp_path: Path) -> Lake:
    root = tmp_path / "lake"
    # 1. exactly the schema, several row groups (hourly IoT file name, `hour=` in the file name).
    exact = pa.table(_rows(2_500, "M1", "mqtt", 1_000_000), schema=TELEMETRY_SCHEMA)
    _write(root, "mqtt", "hour=00.parquet", exact, row_group_size=1_000)
    _write(root, "mqtt", "hour=01.parquet", exact.slice(7, 11))
    # 2. four columns missing, strings dictionary-encoded, quality int32, nanosecond timestamps.
    historian = _rows(1_200, "M2", "pi", 2_000_000)
    for name in ("text_value", "unit", "source_ref", "ingest_run_id"):
        del historian[name]
    fields = [
        pa.field(name, pa.dictionary(pa.int32(), pa.string()))
        if TELEMETRY_SCHEMA.field(name).type == pa.string()
        else pa.field(name, TELEMETRY_SCHEMA.field(name).type)
        for name in historian
    ]
    historian["ts"] = [us * 1_000 for us in historian["ts"]]  # type: ignore[operator]
    schema = pa.schema(fields)
    schema = schema.set(schema.get_field_index("ts"), pa.field("ts", pa.timestamp("ns", tz="UTC")))
    schema = schema.set(schema.get_field_index("quality"), pa.field("quality", pa.int32()))
    _write(root, "pi", "part-0.parquet", pa.table(historian, schema=schema))
    # 3. tz-naive millisecond timestamps, an extra column, the columns in another order.
    imported = _rows(300, "M3", "import", 60_000_000)
    imported["ts"] = [us // 1_000 for us in imported["ts"]]  # type: ignore[operator]
    imported["sheet_row"] = list(range(300))
    table = pa.table(imported)
    table = table.set_column(table.schema.get_field_index("ts"), "ts", table["ts"].cast(pa.timestamp("ms")))
    table = table.set_column(
        table.schema.get_field_index("quality"), "quality", table["quality"].cast(pa.int8())
    )
    _write(root, "import", "import-7.parquet", table.select(list(reversed(table.column_names))))
    # 4. a staging folder below the day: not a file of the day.
    staging = root / "telemetry" / "source=mqtt" / f"date={DAY.isoformat()}" / ".staging-abc"
    staging.mkdir()
    pq.write_table(exact, staging / "hour=00.parquet")
    return Lake(str(root))


def _utc(micros: int) -> datetime:
    return pa.scalar(micros, pa.timestamp("us", "UTC")).as_py()


def _pyarrow_scan(lake: Lake) -> pa.Table:
    """The reading before issue 19's change: one pyarrow dataset over the day's sorted files."""
    files = sorted(lake.fs.glob(lake.path("telemetry", "source=*", f"date={DAY.isoformat()}", "*.parquet")))
    return pads.dataset(files, schema=TELEMETRY_SCHEMA, filesystem=lake.fs, format="parquet").to_table()


def test_whole_day_is_the_pyarrow_scan_row_for_row(mixed_day: Lake) -> None:
    table = raw_telemetry_day(mixed_day, DAY)

    assert table.schema.equals(TELEMETRY_SCHEMA, check_metadata=True)
    assert table.num_rows == 2_500 + 11 + 1_200 + 300
    assert table.equals(_pyarrow_scan(mixed_day))


def test_files_in_path_order_each_in_its_own_row_order(mixed_day: Lake) -> None:
    table = raw_telemetry_day(mixed_day, DAY)

    # import/ < mqtt/ < pi/: path order, whatever the timestamps say.
    sources = table["source_system"].to_pylist()
    assert sources == ["import"] * 300 + ["mqtt"] * (2_500 + 11) + ["pi"] * 1_200
    mqtt = table.filter(pc.equal(table["source_system"], "mqtt"))
    expected_first = _rows(2_500, "M1", "mqtt", 1_000_000)
    assert mqtt["value"].to_pylist()[:2_500] == expected_first["value"]
    assert mqtt["value"].to_pylist()[2_500:] == expected_first["value"][7:18]


def test_differing_files_are_cast_to_the_schema(mixed_day: Lake) -> None:
    table = raw_telemetry_day(mixed_day, DAY)

    historian = table.filter(pc.equal(table["source_system"], "pi"))
    assert historian["text_value"].null_count == 1_200
    assert historian["ingest_run_id"].null_count == 1_200
    assert (
        historian["ts"][0].as_py()
        == pa.scalar(BASE_US + 1_200 * 2_000_000, pa.timestamp("us", "UTC")).as_py()
    )
    imported = table.filter(pc.equal(table["source_system"], "import"))
    # The naive millisecond time is taken as UTC, as the pyarrow cast did.
    assert (
        imported["ts"][0].as_py() == pa.scalar(BASE_US + 300 * 60_000_000, pa.timestamp("us", "UTC")).as_py()
    )
    assert imported["quality"].to_pylist()[:5] == [50, 100, 100, 100, 100]
    assert "sheet_row" not in table.column_names and "source" not in table.column_names


def test_filtered_read_keeps_the_whole_days_rows_that_match(mixed_day: Lake) -> None:
    states = pc.field("signal") == "machine_state"

    filtered = raw_telemetry_day(mixed_day, DAY, states)

    assert filtered.schema.equals(TELEMETRY_SCHEMA)
    assert filtered.equals(raw_telemetry_day(mixed_day, DAY).filter(states))
    assert 0 < filtered.num_rows < 4_011


def test_a_day_without_files_is_an_empty_table(mixed_day: Lake) -> None:
    table = raw_telemetry_day(mixed_day, date(2025, 1, 7))

    assert table.num_rows == 0
    assert table.schema.equals(TELEMETRY_SCHEMA)
