"""The lake on an object store (`OEE_LAKE_ROOT=s3://bucket/prefix`) against moto on loopback, env-only."""

from __future__ import annotations

import io
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.client import BaseClient

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.storage.lake import Lake

DAY = date(2025, 1, 13)
PI_FOLDER = f"telemetry/source=pi/date={DAY.isoformat()}"


@pytest.fixture(scope="module")
def readings() -> pa.Table:
    """One hour of one machine's simulated telemetry, in the lake's schema."""
    plant = SimulatedPlant(load_plant_description())
    return plant.telemetry("2025-01-13T00:00Z", "2025-01-13T01:00Z", machine_ids=["MACHINE-001"])


def _keys(client: BaseClient, lake_root: str, folder: str) -> list[str]:
    bucket, prefix = lake_root.removeprefix("s3://").split("/", 1)
    listing = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/{folder}/")
    return sorted(item["Key"].rsplit("/", 1)[1] for item in listing.get("Contents", []))


def _put_parquet(client: BaseClient, lake_root: str, relative_path: str, table: pa.Table) -> None:
    bucket, prefix = lake_root.removeprefix("s3://").split("/", 1)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    client.put_object(Bucket=bucket, Key=f"{prefix}/{relative_path}", Body=buffer.getvalue())


def test_the_lake_resource_takes_an_s3_root_from_the_environment(
    s3_lake_root: str, monkeypatch: pytest.MonkeyPatch, readings: pa.Table
) -> None:
    monkeypatch.setenv("OEE_LAKE_ROOT", s3_lake_root)
    lake = LakeResource(root=Settings.from_env().lake_root).lake()

    written = lake.write_file(f"{PI_FOLDER}/part-0.parquet", readings)

    assert not lake.is_local
    assert written == f"{s3_lake_root.removeprefix('s3://')}/{PI_FOLDER}/part-0.parquet"
    assert lake.list_files(PI_FOLDER) == [written]
    assert lake.read_folder(PI_FOLDER, schema=TELEMETRY_SCHEMA).equals(readings)


def test_replace_folder_leaves_exactly_the_new_files(
    s3_lake_root: str, s3_client: BaseClient, readings: pa.Table
) -> None:
    lake = Lake(s3_lake_root)
    lake.replace_folder(PI_FOLDER, {"part-0.parquet": readings, "part-1.parquet": readings})
    first_hour, second_half = readings.slice(0, 100), readings.slice(100)

    lake.replace_folder(PI_FOLDER, {"part-0.parquet": first_hour, "part-9.parquet": second_half})

    assert _keys(s3_client, s3_lake_root, PI_FOLDER) == ["part-0.parquet", "part-9.parquet"]
    assert lake.read_folder(PI_FOLDER, schema=TELEMETRY_SCHEMA).num_rows == readings.num_rows


def test_a_table_that_cannot_be_written_leaves_the_previous_objects_intact(
    s3_lake_root: str, readings: pa.Table
) -> None:
    lake = Lake(s3_lake_root)
    lake.replace_folder(PI_FOLDER, {"part-0.parquet": readings})
    unwritable = pa.table({"span": pa.array([(1, 2, 3)], type=pa.month_day_nano_interval())})

    with pytest.raises(pa.ArrowNotImplementedError):
        lake.write_file(f"{PI_FOLDER}/part-0.parquet", unwritable)
    with pytest.raises(pa.ArrowNotImplementedError):
        lake.replace_folder(PI_FOLDER, {"part-1.parquet": readings, "part-2.parquet": unwritable})

    assert [path.rsplit("/", 1)[1] for path in lake.list_files(PI_FOLDER)] == ["part-0.parquet"]
    assert lake.read_folder(PI_FOLDER, schema=TELEMETRY_SCHEMA).equals(readings)


def test_files_written_by_another_process_are_listed(
    s3_lake_root: str, s3_client: BaseClient, readings: pa.Table
) -> None:
    lake = Lake(s3_lake_root)
    lake.write_file(f"{PI_FOLDER}/part-0.parquet", readings)
    assert len(lake.list_files(PI_FOLDER)) == 1

    _put_parquet(s3_client, s3_lake_root, f"{PI_FOLDER}/import-job-7.parquet", readings)

    assert [path.rsplit("/", 1)[1] for path in Lake(s3_lake_root).list_files(PI_FOLDER)] == [
        "import-job-7.parquet",
        "part-0.parquet",
    ]
    assert lake.read_folder(PI_FOLDER).num_rows == 2 * readings.num_rows


def test_duckdb_reads_the_hive_partitioned_lake_on_s3(s3_lake_root: str, readings: pa.Table) -> None:
    lake = Lake(s3_lake_root)
    lake.replace_folder(PI_FOLDER, {"part-0.parquet": readings})
    lake.write_file(f"telemetry/source=mqtt/date={DAY.isoformat()}/hour=00.parquet", readings.slice(0, 50))
    connection = duckdb.connect()
    lake.register_in(connection)

    rows = connection.execute(
        "SELECT source, date::VARCHAR, count(*) FROM read_parquet(?, hive_partitioning = true) "
        "GROUP BY ALL ORDER BY source",
        [lake.url("telemetry", "*", "*", "*.parquet")],
    ).fetchall()

    assert rows == [("mqtt", "2025-01-13", 50), ("pi", "2025-01-13", readings.num_rows)]
