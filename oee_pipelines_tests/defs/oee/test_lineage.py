"""Lineage (issue 18, item 5): one snapshot followed back to its raw readings in the lake.

The demo plant's day is landed as three sources would land it: machine states by a historian backfill
(`source=pi`, the backfill job's Dagster run), good-piece counters by an IoT landing run
(`source=mqtt`, a plain Dagster run) and reject counters by a file import without a run
(`source=import`, `import-<job_id>`). The OEE chain runs over the day; one snapshot with production is
traced; its lineage must name the three systems and runs, resolved to their jobs, and its pieces are
recomputed from the traced raw readings alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.services.oee.lineage import LINEAGE_SQL, trace_snapshot
from oee_pipelines.settings import Settings
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.plant_days import LoadedPlant, materialize_days

DAY = date(2025, 1, 14)  # a Tuesday: every line scheduled
MACHINE = "MACHINE-001"


def land_as_three_sources(loaded: LoadedPlant, database_url: str) -> dict[str, str]:
    """Split the day's readings over three sources and register the jobs that landed them."""
    lake: Lake = loaded.lake
    folder = f"telemetry/source=pi/{Lake.date_folder(DAY)}"
    day = lake.read_folder(folder)
    org_id = day["org_id"][0].as_py()
    backfill_run, iot_run = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(database_url) as conn:
        backfill_job = conn.execute(
            """INSERT INTO historian_backfill_jobs
                   (org_id, historian_system, start_time, end_time, job_status, dagster_run_id)
               VALUES (%s, 'pi', %s, %s, 'COMPLETED', %s) RETURNING job_id""",
            (org_id, datetime(2025, 1, 14, tzinfo=UTC), datetime(2025, 1, 15, tzinfo=UTC), backfill_run),
        ).fetchone()[0]  # type: ignore[index]
        import_job = conn.execute(
            """INSERT INTO import_jobs (org_id, import_type, file_name, checksum, submitted_by, status)
               VALUES (%s, 'sensor_log', 'rejects.csv', 'sha', 'test', 'SUCCESS') RETURNING job_id""",
            (org_id,),
        ).fetchone()[0]  # type: ignore[index]
    import_run = f"import-{import_job}"
    parts = {
        "pi": (pc.equal(day["signal"], "machine_state"), backfill_run),
        "mqtt": (pc.equal(day["signal"], "pieces_good"), iot_run),
        "import": (pc.equal(day["signal"], "pieces_rejected"), import_run),
    }
    lake.remove_folder(folder)
    for source, (rows, run_id) in parts.items():
        part = day.filter(rows)
        part = part.set_column(
            part.schema.get_field_index("source_system"), "source_system", pa.array([source] * part.num_rows)
        )
        part = part.set_column(
            part.schema.get_field_index("ingest_run_id"),
            "ingest_run_id",
            pa.array([run_id] * part.num_rows, pa.string()),
        )
        lake.write_file(f"telemetry/source={source}/{Lake.date_folder(DAY)}/part-0.parquet", part)
    return {
        "backfill_run": backfill_run,
        "iot_run": iot_run,
        "import_run": import_run,
        "backfill_job": str(backfill_job),
        "import_job": str(import_job),
    }


def test_a_snapshot_traces_back_to_its_sources_runs_and_raw_readings(plant_days, clean_database: str) -> None:
    loaded = plant_days(DAY, DAY)
    landed = land_as_three_sources(loaded, clean_database)
    assert materialize_days(loaded, DAY, DAY).success

    with psycopg.connect(clean_database) as conn:
        # A mid-day window of MACHINE-001 that made good and rejected pieces.
        org_id, window_end, good, total = conn.execute(
            """SELECT org_id, snapshot_time, good_pieces, total_pieces FROM oee_data_mart_table
               WHERE machine_id = %s AND rejected_pieces > 0 AND good_pieces > 0
                 AND snapshot_time > %s AND snapshot_time < %s
               ORDER BY snapshot_time LIMIT 1""",
            (MACHINE, datetime(2025, 1, 14, 8, tzinfo=UTC), datetime(2025, 1, 14, 20, tzinfo=UTC)),
        ).fetchone()  # type: ignore[misc]
        trace = trace_snapshot(conn, loaded.lake, org_id, MACHINE, window_end)
        documented = conn.execute(
            LINEAGE_SQL, {"org_id": org_id, "machine_id": MACHINE, "window_end": window_end}
        ).fetchall()
        mart_lineage = conn.execute(
            """SELECT DISTINCT source_systems FROM oee_data_mart_table
               WHERE snapshot_time > %s AND snapshot_time <= %s AND total_pieces > 0""",
            (datetime(2025, 1, 14, tzinfo=UTC), datetime(2025, 1, 15, tzinfo=UTC)),
        ).fetchall()
        other_org = trace_snapshot(conn, loaded.lake, "another-org", MACHINE, window_end)

    assert trace is not None and other_org is None
    snapshot = trace.snapshot
    assert (snapshot["good_pieces"], snapshot["total_pieces"]) == (good, total)
    # The lineage names the three systems and the three runs that landed the window's readings...
    assert snapshot["source_systems"] == ["import", "mqtt", "pi"]
    assert sorted(snapshot["ingest_runs"]) == sorted(
        [landed["backfill_run"], landed["iot_run"], landed["import_run"]]
    )
    # ... each resolved to its job: the backfill job, the import job, and the IoT landing run itself.
    resolved = {run.ingest_run_id: (run.kind, run.job_id) for run in trace.runs}
    assert resolved == {
        landed["backfill_run"]: ("historian_backfill", int(landed["backfill_job"])),
        landed["import_run"]: ("import", int(landed["import_job"])),
        landed["iot_run"]: ("dagster_run", None),
    }
    # The documented SQL resolves the same runs from the mart row.
    assert {(row[6], row[7], row[8]) for row in documented} == {
        (landed["backfill_run"], None, int(landed["backfill_job"])),
        (landed["import_run"], int(landed["import_job"]), None),
        (landed["iot_run"], None, None),
    }
    # Every mart row with pieces carries its lineage (windows with counters always have both counters'
    # sources or at least one; none is empty).
    assert mart_lineage and all(row[0] for row in mart_lineage)

    # Recompute the pieces from the traced raw readings: a counter at ts counts in (window_start, ts].
    readings = trace.readings
    assert set(readings["source_system"].to_pylist()) == {"import", "mqtt", "pi"}
    start = snapshot["window_start"]
    inside = readings.filter(pc.greater(readings["ts"], pa.scalar(start, pa.timestamp("us", tz="UTC"))))
    good_again = pc.sum(inside.filter(pc.equal(inside["signal"], "pieces_good"))["value"]).as_py() or 0
    rejected_again = (
        pc.sum(inside.filter(pc.equal(inside["signal"], "pieces_rejected"))["value"]).as_py() or 0
    )
    assert round(good_again) == snapshot["good_pieces"] > 0
    assert round(good_again + rejected_again) == snapshot["total_pieces"] > snapshot["good_pieces"]


def test_the_lineage_endpoint_serves_the_trace_to_its_organization_only(
    plant_days, clean_database: str, tmp_path
) -> None:
    loaded = plant_days(DAY, DAY)
    landed = land_as_three_sources(loaded, clean_database)
    assert materialize_days(loaded, DAY, DAY).success
    with psycopg.connect(clean_database) as conn:
        org_id, window_end, good, total = conn.execute(
            """SELECT org_id, snapshot_time, good_pieces, total_pieces FROM oee_data_mart_table
               WHERE machine_id = %s AND rejected_pieces > 0 AND snapshot_time > %s
               ORDER BY snapshot_time LIMIT 1""",
            (MACHINE, datetime(2025, 1, 14, 8, tzinfo=UTC)),
        ).fetchone()  # type: ignore[misc]
        conn.execute("INSERT INTO organizations (id, name) VALUES ('other-org', 'Other')")
        own_key = create_api_key(conn, org_id, "lineage")[1]
        other_key = create_api_key(conn, "other-org", "lineage")[1]
    settings = Settings.from_env({"OEE_DATA_DIR": str(tmp_path / "data"), "OEE_LAKE_ROOT": loaded.lake.root})
    app = create_app(settings, database_url=clean_database, api_settings=ApiSettings(pool_max_size=2))
    try:
        client = TestClient(app)
        params = {"machine_id": MACHINE, "window_end": window_end.isoformat()}
        answer = client.get("/api/oee/lineage/snapshot", params=params, headers={"X-API-Key": own_key})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (body["snapshot"]["good_pieces"], body["snapshot"]["total_pieces"]) == (good, total)
        assert body["source_systems"] == ["import", "mqtt", "pi"]
        assert {(r["ingest_run_id"], r["kind"]) for r in body["ingest_runs"]} == {
            (landed["backfill_run"], "historian_backfill"),
            (landed["import_run"], "import"),
            (landed["iot_run"], "dagster_run"),
        }
        counted = sum(
            r["value"]
            for r in body["readings"]
            if r["signal"].startswith("pieces_")
            and datetime.fromisoformat(r["ts"]) > datetime.fromisoformat(body["snapshot"]["window_start"])
        )
        assert round(counted) == total
        # Another organization's key: the machine is not there (404, never told apart from unknown).
        other = client.get("/api/oee/lineage/snapshot", params=params, headers={"X-API-Key": other_key})
        assert other.status_code == 404 and other.json()["parameter"] == "machine_id"
        # A time no window ends at, and a time that is not one.
        off_grid = {**params, "window_end": "2025-01-14T10:07:00Z"}
        missing = client.get("/api/oee/lineage/snapshot", params=off_grid, headers={"X-API-Key": own_key})
        assert missing.status_code == 404 and missing.json()["parameter"] == "window_end"
        bad = {**params, "window_end": "yesterday"}
        invalid = client.get("/api/oee/lineage/snapshot", params=bad, headers={"X-API-Key": own_key})
        assert invalid.status_code == 422 and invalid.json()["parameter"] == "window_end"
        assert "/api/oee/lineage/snapshot" in client.get("/openapi.json").json()["paths"]
    finally:
        app.state.services.close()
