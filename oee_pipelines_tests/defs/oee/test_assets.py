"""The OEE assets over the demo plant: exact re-materialization, late data, draft/final shift reports."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa

from oee_pipelines_tests.support.plant_days import (
    OEE_ASSETS,
    OEE_CHECKS,
    UPSTREAM_SPECS,
    materialize_days,
    telemetry_day,
    write_source_day,
)

WEDNESDAY, THURSDAY = date(2025, 1, 15), date(2025, 1, 16)
CHAIN = ["enriched_telemetry", "oee_downtime_events", "oee_snapshots", "shift_reports", "oee_data_mart"]


def fingerprint(url: str) -> dict[str, object]:
    """Row counts and content checksums of everything the OEE stage writes (ids and run ids left out)."""
    queries = {
        "snapshots": """SELECT count(*), md5(string_agg(concat_ws('|', machine_id, snapshot_time,
                            shift_id, work_order_id, planned_production_time, actual_production_time,
                            unplanned_downtime, total_pieces, good_pieces, availability_pct,
                            performance_raw_pct, quality_pct, oee_pct, small_stops_minutes), ','
                            ORDER BY machine_id, snapshot_time))
                        FROM oee_snapshots""",
        "downtime": """SELECT count(*), md5(string_agg(concat_ws('|', machine_id, start_time, end_time,
                           reason_code, is_planned, duration_minutes), ',' ORDER BY machine_id, start_time))
                       FROM oee_downtime_events""",
        "mart": """SELECT count(*), md5(string_agg(concat_ws('|', machine_id, snapshot_time, oee_pct,
                       downtime_minutes), ',' ORDER BY machine_id, snapshot_time))
                   FROM oee_data_mart_table""",
        "shift_reports": "SELECT count(*), md5(string_agg(concat_ws('|', line_id, shift_id, shift_date, "
        "oee_pct, status), ',' ORDER BY line_id, shift_start)) FROM shift_reports",
        "alerts": "SELECT count(*) FROM data_quality_alerts",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchone() for name, query in queries.items()}


def test_rematerializing_a_day_replaces_its_rows_exactly(plant_days, clean_database: str) -> None:
    loaded = plant_days(
        WEDNESDAY, WEDNESDAY, ["machine_state", "pieces_good", "pieces_rejected", "temperature"]
    )
    first = materialize_days(loaded, WEDNESDAY, WEDNESDAY)
    before = fingerprint(clean_database)
    second = materialize_days(loaded, WEDNESDAY, WEDNESDAY)
    assert first.success and second.success
    assert fingerprint(clean_database) == before
    assert before["snapshots"][0] == before["mart"][0] == 16 * 96
    assert before["downtime"][0] > 10 and before["shift_reports"][0] > 0
    # Thursday is not built: its raw 00:00 counters still close Wednesday's last window (night shift).
    truth = loaded.plant.true_oee(WEDNESDAY, THURSDAY)
    with psycopg.connect(clean_database) as conn:
        last_window = conn.execute(
            "SELECT machine_id, total_pieces FROM oee_snapshots WHERE snapshot_time = '2025-01-16 00:00+00'"
        ).fetchall()
    expected = truth[truth["snapshot_time"] == pd.Timestamp("2025-01-16", tz="UTC")]
    assert dict(last_window) == dict(zip(expected["machine_id"], expected["total_pieces"], strict=True))
    assert expected["total_pieces"].min() > 0
    enriched = second.asset_materializations_for_node("enriched_telemetry")[0].metadata
    assert enriched["context_share_pct"].value == 100.0
    # The temperature spikes of the simulator fail the soft range check; the chain still ran.
    checks = {e.check_name: e for e in second.get_asset_check_evaluations()}
    assert not checks["readings_within_range"].passed
    assert checks["readings_within_range"].severity == dg.AssetCheckSeverity.WARN
    assert checks["readings_within_range"].metadata["out_of_range_alerts"].value > 0
    assert checks["machine_state_present"].passed and checks["snapshot_grid_complete"].passed
    # What the mart view reads (each window's stored downtime) is what the derived events add up to.
    downtime_check = checks["snapshot_downtime_matches_events"]
    assert downtime_check.passed and downtime_check.metadata["windows"].value == 16 * 96
    assert downtime_check.metadata["stored_downtime_minutes"].value > 0


def late_good_pieces(loaded, machine_id: str, when: str, pieces: float) -> None:
    """A historian re-backfill delivers counts missing from one hour of an already-built day."""
    day = telemetry_day(loaded.plant, WEDNESDAY, ["pieces_good"])
    frame = day.to_pandas()
    late = frame[(frame["machine_id"] == machine_id) & (frame["ts"] == pd.Timestamp(when, tz="UTC"))]
    late = late.assign(value=pieces, source_ref="late-backfill")
    table = pa.Table.from_pandas(late, schema=day.schema, preserve_index=False)
    write_source_day(loaded.lake, table, WEDNESDAY, "part-late.parquet")


def mart_window(url: str, machine_id: str, snapshot_time: str) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT good_pieces, performance_pct, oee_pct, refreshed_at FROM oee_data_mart_table
               WHERE machine_id = %s AND snapshot_time = %s""",
            (machine_id, snapshot_time),
        ).fetchone()


def test_late_data_rebuilds_exactly_that_days_partitions_with_the_corrected_oee(
    plant_days, clean_database
) -> None:
    loaded = plant_days(WEDNESDAY, THURSDAY)
    definitions = dg.Definitions(
        assets=[*OEE_ASSETS, *UPSTREAM_SPECS], asset_checks=OEE_CHECKS, resources=loaded.resources
    )
    with dg.instance_for_test() as instance:
        assert materialize_days(loaded, WEDNESDAY, THURSDAY, instance=instance).success
        settled = dg.evaluate_automation_conditions(defs=definitions, instance=instance)
        assert settled.total_requested == 0
        window = ("MACHINE-001", "2025-01-15 10:15+00")
        before = mart_window(clean_database, *window)
        untouched_day = mart_window(clean_database, "MACHINE-001", "2025-01-16 10:15+00")

        late_good_pieces(loaded, "MACHINE-001", "2025-01-15 10:05", 40.0)
        instance.report_runless_asset_event(
            dg.AssetMaterialization("historian_points", partition="2025-01-15")
        )
        late = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=settled.cursor)
        requested = {key: late.get_requested_partitions(dg.AssetKey(key)) for key in CHAIN}
        assert requested == {key: {"2025-01-15"} for key in CHAIN}
        assert late.total_requested == len(CHAIN)  # operator_shifts and the other days: nothing

        rebuilt = dg.materialize(
            OEE_ASSETS,
            selection=CHAIN,
            partition_key="2025-01-15",
            resources=loaded.resources,
            instance=instance,
        )
        assert rebuilt.success
        after = mart_window(clean_database, *window)
        assert after[0] == before[0] + 40
        assert after[1] > before[1] and after[2] > before[2]
        assert mart_window(clean_database, "MACHINE-001", "2025-01-16 10:15+00") == untouched_day
        done = dg.evaluate_automation_conditions(defs=definitions, instance=instance, cursor=late.cursor)
        assert done.total_requested == 0


def test_shift_reports_are_final_once_the_shift_ended_with_complete_data(plant_days, clean_database) -> None:
    loaded = plant_days(WEDNESDAY, WEDNESDAY)
    # Thursday's readings have not arrived: shifts running past midnight stay draft.
    loaded.lake.remove_folder("telemetry/source=pi/date=2025-01-16")
    assert materialize_days(loaded, WEDNESDAY, WEDNESDAY).success
    with psycopg.connect(clean_database) as conn:
        rows = conn.execute(
            """SELECT shift_end, status, oee_pct, jsonb_array_length(top_downtime_reasons)
               FROM shift_reports ORDER BY line_id, shift_start"""
        ).fetchall()
    midnight = pd.Timestamp("2025-01-16", tz="UTC")
    assert [status for _, status, _, _ in rows] == [
        "final" if end <= midnight else "draft" for end, _, _, _ in rows
    ]
    assert {status for _, status, _, _ in rows} == {"final", "draft"}
    finals = [
        (oee, reasons)
        for end, status, oee, reasons in rows
        if status == "final" and end > midnight - pd.Timedelta(hours=20)
    ]
    assert finals and all(oee is not None and reasons > 0 for oee, reasons in finals)
