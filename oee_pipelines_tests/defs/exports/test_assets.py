"""The export assets on a real warehouse and lake: files per organization, day and format; the manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import pyarrow.parquet as pq

from oee_pipelines.defs.exports.assets import export_assets
from oee_pipelines.exports.columns import DOWNTIME, SNAPSHOTS, TELEMETRY_AGGREGATES
from oee_pipelines.exports.daily import PUBLISHED_TABLES
from oee_pipelines_tests.support.tenant_warehouse import HOSTILE_DESCRIPTION

DAY = "2025-01-02"
FORMATS = ("csv", "json", "parquet", "xlsx")
ORGS = ("acme", "globex")


def materialize_day(resources: dict[str, object], partition_key: str = DAY) -> dg.ExecuteInProcessResult:
    result = dg.materialize(export_assets, resources=resources, partition_key=partition_key)
    assert result.success
    return result


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def manifest_files(root: Path) -> list[dict]:
    return json.loads((root / "manifest.json").read_text())["files"]


def test_a_day_publishes_every_table_in_every_format_per_organization(
    resources: dict[str, object], published_root: Path
) -> None:
    materialize_day(resources)
    expected = {
        f"{org}/{published.name}/{published.name}_{DAY}.{fmt}"
        for org in ORGS for published in PUBLISHED_TABLES for fmt in FORMATS
    }  # fmt: skip
    written = {p.relative_to(published_root).as_posix() for p in published_root.glob("*/*/*.*")}
    assert written == expected
    assert not list(published_root.rglob("*.tmp-*"))


def test_snapshot_files_hold_the_days_windows_with_their_types(
    resources: dict[str, object], published_root: Path
) -> None:
    materialize_day(resources)
    folder = published_root / "acme" / "oee_snapshots"
    rows = read_csv(folder / f"oee_snapshots_{DAY}.csv")
    assert list(rows[0]) == SNAPSHOTS.column_names
    # snapshot_time is a window's end: the day's 96 windows end from 00:15 to the next midnight.
    assert len(rows) == 96
    assert (rows[0]["snapshot_time"], rows[-1]["snapshot_time"]) == (
        "2025-01-02T00:15:00Z",
        "2025-01-03T00:00:00Z",
    )
    assert {row["machine_id"] for row in rows} == {"MACHINE-A01"}

    parquet = pq.read_table(folder / f"oee_snapshots_{DAY}.parquet")
    assert parquet.schema == SNAPSHOTS.arrow_schema and parquet.num_rows == 96
    assert (
        pq.ParquetFile(folder / f"oee_snapshots_{DAY}.parquet").metadata.row_group(0).column(0).compression
        == "ZSTD"
    )
    path = folder / f"oee_snapshots_{DAY}.parquet"
    with duckdb.connect() as connection:
        described = connection.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        count = connection.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    types = {row[0]: row[1] for row in described}
    assert types["snapshot_time"] == "TIMESTAMP WITH TIME ZONE" and types["oee_pct"] == "DOUBLE"
    assert count == (96,)

    sheet = openpyxl.load_workbook(folder / f"oee_snapshots_{DAY}.xlsx").active
    assert [cell.value for cell in sheet[1]] == SNAPSHOTS.column_names
    assert sheet.max_row == 97 and sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:H97"
    assert sheet["A1"].font.bold and sheet["A2"].value == datetime(2025, 1, 2, 0, 15)
    assert sheet["A2"].number_format == "yyyy-mm-dd hh:mm:ss" and sheet["D3"].number_format == "0.000%"
    assert sheet.column_dimensions["A"].width > 15

    assert len(json.loads((folder / f"oee_snapshots_{DAY}.json").read_text())) == 96


def test_an_organization_never_finds_another_ones_rows(
    resources: dict[str, object], published_root: Path
) -> None:
    materialize_day(resources)
    for path in (published_root / "globex").glob("*/*.csv"):
        text = path.read_text()
        assert "acme" not in text and "A0" not in text and "Acme" not in text, path
    globex = read_csv(published_root / "globex" / "oee_snapshots" / f"oee_snapshots_{DAY}.csv")
    assert len(globex) == 96 and {row["machine_id"] for row in globex} == {"MACHINE-B01"}


def test_hourly_telemetry_aggregates_come_from_the_lake(
    resources: dict[str, object], published_root: Path
) -> None:
    materialize_day(resources)
    table = pq.read_table(published_root / "acme" / "telemetry_hourly" / f"telemetry_hourly_{DAY}.parquet")
    assert table.schema == TELEMETRY_AGGREGATES.arrow_schema
    assert table.num_rows == 24 * 2  # 24 hours x (temperature, pressure)
    assert set(table.column("count").to_pylist()) == {60}
    assert table.column("bucket")[0].as_py() == datetime(2025, 1, 2, tzinfo=UTC)
    assert set(table.column("machine_id").to_pylist()) == {"MACHINE-A01"}


def test_text_that_excel_would_run_stays_text(resources: dict[str, object], published_root: Path) -> None:
    materialize_day(resources)
    folder = published_root / "acme" / "oee_downtime_events"
    rows = read_csv(folder / f"oee_downtime_events_{DAY}.csv")
    hostile = next(row for row in rows if row["source_system"] == "import")
    assert hostile["description"] == "'" + HOSTILE_DESCRIPTION and hostile["reason_code"] == "'@SUM(1+1)"
    sheet = openpyxl.load_workbook(folder / f"oee_downtime_events_{DAY}.xlsx").active
    column = DOWNTIME.column_names.index("description") + 1
    cells = [sheet.cell(row=row, column=column) for row in range(2, sheet.max_row + 1)]
    hostile_cell = next(cell for cell in cells if cell.value == HOSTILE_DESCRIPTION)
    assert hostile_cell.data_type == "s"  # a string, not a formula ("f")
    parquet = pq.read_table(folder / f"oee_downtime_events_{DAY}.parquet")
    assert HOSTILE_DESCRIPTION in parquet.column("description").to_pylist()  # data formats keep the value


def test_the_manifest_lists_every_file_with_its_checksum_and_rows(
    resources: dict[str, object], published_root: Path
) -> None:
    materialize_day(resources)
    files = manifest_files(published_root)
    assert len(files) == len(ORGS) * len(PUBLISHED_TABLES) * len(FORMATS)
    for entry in files:
        content = (published_root / entry["path"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest() and entry["bytes"] == len(content)
        assert (
            entry["period_start"] == "2025-01-02T00:00:00Z" and entry["period_end"] == "2025-01-03T00:00:00Z"
        )
    snapshots = next(e for e in files if e["path"] == f"acme/oee_snapshots/oee_snapshots_{DAY}.parquet")
    assert snapshots["rows"] == 96 and snapshots["format"] == "parquet"
    assert (snapshots["first_time"], snapshots["last_time"]) == (
        "2025-01-02T00:15:00Z",
        "2025-01-03T00:00:00Z",
    )
    own = json.loads((published_root / "acme" / "manifest.json").read_text())["files"]
    assert {e["path"] for e in own} == {
        e["path"].removeprefix("acme/") for e in files if e["org_id"] == "acme"
    }


def test_rematerializing_replaces_files_and_a_range_adds_its_days(
    resources: dict[str, object], published_root: Path
) -> None:
    first = materialize_day(resources)
    before = sorted(p.relative_to(published_root) for p in published_root.rglob("*") if p.is_file())
    materialize_day(resources)
    after = sorted(p.relative_to(published_root) for p in published_root.rglob("*") if p.is_file())
    assert before == after
    assert len(manifest_files(published_root)) == len(ORGS) * len(PUBLISHED_TABLES) * len(FORMATS)

    ranged = dg.materialize(
        export_assets,
        resources=resources,
        tags={"dagster/asset_partition_range_start": "2025-01-01", "dagster/asset_partition_range_end": DAY},
    )
    assert ranged.success and len(ranged.get_asset_materialization_events()) == 2 * len(PUBLISHED_TABLES)
    files = manifest_files(published_root)
    assert len(files) == 2 * len(ORGS) * len(PUBLISHED_TABLES) * len(FORMATS)
    assert len({entry["path"] for entry in files}) == len(files)
    jan_1 = read_csv(published_root / "acme" / "oee_snapshots" / "oee_snapshots_2025-01-01.csv")
    assert {row["machine_id"] for row in jan_1} == {"MACHINE-A01", "MACHINE-A02"}
    metadata = first.asset_materializations_for_node("published_oee_snapshots")[0].metadata
    assert metadata["dagster/row_count"].value == 96 + 96  # acme and globex
