"""`historian_points` against a PI server with a low MaxReturnedItemsPerCall (issue 14 item 6) and with a
state set on the state tag (issue 14 item 4)."""

from __future__ import annotations

import hashlib

import dagster as dg
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oee_pipelines.defs.historian.assets import historian_points
from oee_pipelines.domain.telemetry import MACHINE_STATE, TELEMETRY_SCHEMA
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.historian.run_tags import BackfillRequest
from oee_pipelines.services.historian.state_alerts import UNMAPPED_STATE
from oee_pipelines_tests.support.historian import PI_MACHINE, Historians

DAYS = ["2025-01-13", "2025-01-14"]
PI_ONLY = BackfillRequest(system="pi").run_tags()


def backfill_pi(
    instance: dg.DagsterInstance, historians: Historians, warehouse: WarehouseResource, lake: LakeResource
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [historian_points],
        instance=instance,
        resources={"historian": historians.resource(), "warehouse": warehouse, "lake": lake},
        tags={
            "dagster/asset_partition_range_start": DAYS[0],
            "dagster/asset_partition_range_end": DAYS[-1],
            **PI_ONLY,
        },
    )


def pi_points(lake: LakeResource) -> pa.Table:
    return pa.concat_tables(
        lake.lake().read_folder(f"telemetry/source=pi/date={day}", TELEMETRY_SCHEMA) for day in DAYS
    )


def checksum(points: pa.Table) -> str:
    frame = points.drop(["ingest_run_id"]).to_pandas()
    frame = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()


@pytest.mark.parametrize(("limit", "named", "used"), [(997, True, 997), (1100, False, 625)])
def test_a_pi_limit_below_max_count_still_backfills_every_value_once(
    historians: Historians,
    mapped_warehouse: WarehouseResource,
    lake: LakeResource,
    limit: int,
    named: bool,
    used: int,
) -> None:
    with dg.instance_for_test() as instance:
        backfill_pi(instance, historians, mapped_warehouse, lake)
        unlimited = pi_points(lake)
        historians.pi.max_returned_items_per_call = limit  # the resource asks maxCount=5000
        historians.pi.limit_in_error = named
        limited = backfill_pi(instance, historians, mapped_warehouse, lake)
        logs = [
            entry.user_message
            for entry in instance.all_logs(limited.run_id)
            if "refused maxCount" in entry.user_message
        ]
    points = pi_points(lake)
    assert points.num_rows == unlimited.num_rows > 10 * used
    assert checksum(points) == checksum(unlimited)
    assert len(logs) == 1 and f"using maxCount={used}" in logs[0]  # once per run, not once per day
    for event in limited.get_asset_materialization_events():
        assert event.materialization.metadata["max_count_used"].value == {"pi": used}


def state_rows(lake: LakeResource) -> pd.DataFrame:
    points = pi_points(lake)
    states = points.filter(pc.equal(points["signal"], MACHINE_STATE)).to_pandas()
    return states[["ts", "value", "text_value", "source_ref"]]


def unmapped_state_alerts(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            """SELECT machine_id, partition_date::text, metric_value, details FROM data_quality_alerts
               WHERE alert_type = %s ORDER BY partition_date""",
            (UNMAPPED_STATE,),
        ).fetchall()


def set_states(database_url: str, states: dict[str, tuple[bool, str | None]]) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """UPDATE historian_tag_mappings SET state_set = 'DEMO-STATES'
               WHERE signal_type = 'machine_state' AND historian_system = 'pi'"""
        )
        conn.execute("DELETE FROM state_name_mappings")
        for key, (running, reason) in states.items():
            conn.execute(
                """INSERT INTO state_name_mappings (org_id, state_set, state_key, running, reason_code)
                   VALUES ('demo', 'DEMO-STATES', %s, %s, %s)""",
                (key, running, reason),
            )


def test_state_names_map_through_the_state_set_and_unmapped_ones_are_alerted_once_per_tag_and_day(
    historians: Historians, mapped_warehouse: WarehouseResource, lake: LakeResource, clean_database: str
) -> None:
    with dg.instance_for_test() as instance:
        backfill_pi(instance, historians, mapped_warehouse, lake)
        raw = state_rows(lake)  # no state set: the names as the source wrote them
        # The simulator writes upper-case names, the set lower-case ones: names are case-insensitive.
        set_states(clean_database, {"running": (True, None), "brk-mech": (False, "BRK-MECH")})
        backfill_pi(instance, historians, mapped_warehouse, lake)
        mapped = state_rows(lake)
        alerts = unmapped_state_alerts(clean_database)

        others = sorted(set(raw["text_value"]) - {"RUNNING", "BRK-MECH"})
        assert others, "the demo day should report more states than the two mapped"
        assert len(mapped) == len(raw)
        expected_text = raw["text_value"].where(
            raw["text_value"].isin(["RUNNING", "BRK-MECH"]), "UNMAPPED:" + raw["text_value"]
        )
        assert mapped["text_value"].tolist() == expected_text.tolist()
        assert mapped["value"].tolist() == (raw["text_value"] == "RUNNING").astype(float).tolist()
        unmapped = raw[raw["text_value"].isin(others)].assign(day=lambda f: f["ts"].dt.strftime("%Y-%m-%d"))
        expected = {
            (tag, day): group["text_value"].value_counts().to_dict()
            for (tag, day), group in unmapped.groupby(["source_ref", "day"])
        }
        # One alert per tag and day, naming every unmapped name with its count.
        assert {(details["tag"], day): details["names"] for _, day, _, details in alerts} == expected
        assert len(alerts) == len(expected) and PI_MACHINE in {alert[0] for alert in alerts}
        for _machine, _day, total, details in alerts:
            assert total == sum(details["names"].values())
            assert details["state_set"] == "DEMO-STATES" and details["system"] == "pi"

        # Once every name is mapped, a re-run clears the alerts and reads no UNMAPPED state.
        set_states(
            clean_database,
            {"running": (True, None), "brk-mech": (False, "BRK-MECH")}
            | {name.lower(): (False, name) for name in others},
        )
        backfill_pi(instance, historians, mapped_warehouse, lake)
    assert unmapped_state_alerts(clean_database) == []
    assert state_rows(lake)["text_value"].tolist() == raw["text_value"].tolist()
