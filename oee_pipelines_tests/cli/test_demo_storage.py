"""The demo's Dagster instance keeps its PostgreSQL connections between event writes (issue 19 item 7).

Dagster's PostgreSQL storage otherwise opens a connection for each event it writes: a ranged run of
a few partitions opened dozens of them, a quarter of Dagster's own time in the demo's runs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import dagster as dg
import psycopg
import pytest

from oee_pipelines.cli.dagster_home import (
    DAGSTER_STORAGE_VARIABLE,
    DAGSTER_YAML_TEMPLATE,
    QUIET_LOGS,
    ensure_dagster_database,
)
from oee_pipelines.cli.demo import EVENT_BATCH_VARIABLE, batch_event_writes, keep_storage_connections

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01")
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2025-01-01",
    "dagster/asset_partition_range_end": "2025-01-05",
}


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def readings() -> None:
    return None


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(), deps=[readings])
def summary() -> None:
    return None


RANGED_JOB = dg.Definitions(
    assets=[readings, summary],
    jobs=[dg.define_asset_job("ranged_job", selection=[readings, summary])],
).resolve_job_def("ranged_job")


@pytest.fixture
def instance(database_url: str, scratch_database_name: str, tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """The project's dagster.yaml on a database of its own on the test server."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DAGSTER_YAML_TEMPLATE, home / "dagster.yaml")
    storage_url = ensure_dagster_database(database_url, scratch_database_name)
    environment = {"DAGSTER_HOME": str(home), DAGSTER_STORAGE_VARIABLE: storage_url}
    with patch.dict(os.environ, environment), dg.DagsterInstance.get() as created:
        yield created


def sessions_opened_by(database_url: str, database: str, action: object) -> int:
    """How many PostgreSQL sessions were opened on `database` while `action()` ran."""

    def sessions() -> int:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,)
            ).fetchone()
            return int(row[0]) if row else 0

    before = sessions()
    action()  # type: ignore[operator]
    return sessions() - before


def test_a_ranged_run_writes_its_events_over_a_few_connections(
    database_url: str, scratch_database_name: str, instance: dg.DagsterInstance
) -> None:
    def ranged_run() -> None:
        result = RANGED_JOB.execute_in_process(instance=instance, tags=RANGE_TAGS, run_config=QUIET_LOGS)
        assert result.success

    ranged_run()  # the storage's first use (tables, caches) is not what is counted
    unpooled = sessions_opened_by(database_url, scratch_database_name, ranged_run)
    keep_storage_connections(instance)
    pooled = sessions_opened_by(database_url, scratch_database_name, ranged_run)

    # 2 assets x 5 days: each planned or materialized partition's event opened a connection (and its
    # index update another) without the pool, 87 sessions measured; with the pool, 12.
    assert unpooled >= 40
    assert pooled * 4 <= unpooled


def stored_asset_events(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str, str | None]]:
    """The run's materializations as (event type, asset, partition), in the order they were stored."""
    return [
        (
            entry.dagster_event.event_type_value,
            entry.dagster_event.asset_key.to_user_string(),
            entry.dagster_event.partition,
        )
        for entry in (record.event_log_entry for record in instance.get_records_for_run(run_id).records)
        if entry.dagster_event is not None
        and entry.dagster_event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and entry.dagster_event.asset_key is not None
    ]


def test_the_demo_stores_a_ranged_runs_materializations_as_one_batch_per_asset_with_the_same_rows(
    instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = instance.event_log_storage
    batches: list[list[str]] = []
    store_batch = storage.store_event_batch

    def counted(events: list[dg.EventLogEntry]) -> None:  # the storage's own batch write, counted
        batches.append([entry.dagster_event_type.value for entry in events if entry.dagster_event_type])
        store_batch(events)

    monkeypatch.setattr(storage, "store_event_batch", counted)
    keep_storage_connections(instance)

    monkeypatch.setenv(EVENT_BATCH_VARIABLE, "0")  # Dagster's default: every event in a write of its own
    one_by_one = RANGED_JOB.execute_in_process(instance=instance, tags=RANGE_TAGS, run_config=QUIET_LOGS)
    assert one_by_one.success and batches == []
    latest_one_by_one = {
        key: instance.get_latest_materialization_event(dg.AssetKey(key)) for key in ("readings", "summary")
    }

    environ: dict[str, str] = {}
    batch_event_writes(environ)
    monkeypatch.setenv(EVENT_BATCH_VARIABLE, environ[EVENT_BATCH_VARIABLE])
    batched = RANGED_JOB.execute_in_process(instance=instance, tags=RANGE_TAGS, run_config=QUIET_LOGS)
    assert batched.success

    # Each asset's 5 days' materializations went to the storage in one batch (the planned events in
    # one more, which the storage writes one by one).
    materialization_batches = [b for b in batches if set(b) == {"ASSET_MATERIALIZATION"}]
    assert [len(b) for b in materialization_batches] == [5, 5]
    # The same events, in the same order, and the assets' latest materialization is the last day.
    assert stored_asset_events(instance, batched.run_id) == stored_asset_events(instance, one_by_one.run_id)
    assert len(stored_asset_events(instance, batched.run_id)) == 10
    for key, before in latest_one_by_one.items():
        after = instance.get_latest_materialization_event(dg.AssetKey(key))
        assert before is not None and after is not None
        assert after.run_id == batched.run_id and after.dagster_event.partition == "2025-01-05"
        assert before.dagster_event.partition == after.dagster_event.partition
    records = {r.asset_entry.asset_key.to_user_string(): r for r in instance.get_asset_records()}
    assert {key: records[key].asset_entry.last_materialization.run_id for key in ("readings", "summary")} == {
        "readings": batched.run_id,
        "summary": batched.run_id,
    }
    days = {f"2025-01-0{day}" for day in range(1, 6)}
    assert instance.get_materialized_partitions(dg.AssetKey("summary")) == days
