"""PostgreSQL restarted mid partition write: the attempt fails, the retry completes, no partial rows.

A daily-partitioned asset rewrites its partition with `WarehouseResource.replace_rows` (delete + COPY
in one transaction). Version 1 of two partitions is written first. While version 2 of one partition
is being copied, the server is stopped (`pg_ctl stop -m fast`, which ends every session) and started
again. To make "in the middle" certain rather than lucky, a row trigger pauses the COPY once at the
middle row (a sequence, which no rollback resets, makes it fire only once); the restart happens
during that pause. An observer counts the partition's rows while the server is down and after it
is back: only all-old or all-new may ever be visible.
"""

import threading
from datetime import date

import dagster as dg
import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql

from oee_pipelines.defs.monitoring.sensors import step_error_message
from oee_pipelines.resources.warehouse import WarehouseResource
from reliability.common import QUIET_LOGGERS, ScenarioResult, ScratchPostgres, scratch_postgres, wait_for

TABLE = "reliability_partition_rows"
DAY, OTHER_DAY = date(2025, 1, 14), date(2025, 1, 15)
SETUP_SQL = """
CREATE TABLE {table} (day date NOT NULL, seq integer NOT NULL, version integer NOT NULL,
                      value double precision NOT NULL, PRIMARY KEY (day, seq));
CREATE SEQUENCE reliability_pause_once;
CREATE FUNCTION reliability_pause() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('reliability_pause_once') = 1 THEN PERFORM pg_sleep(120); END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER reliability_pause_midway BEFORE INSERT ON {table} FOR EACH ROW
  WHEN (NEW.version = 2 AND NEW.seq = {middle}) EXECUTE FUNCTION reliability_pause();
"""

days = dg.DailyPartitionsDefinition(start_date="2025-01-01", timezone="UTC")


class WriteConfig(dg.Config):
    version: int
    rows: int


@dg.asset(
    partitions_def=days, retry_policy=dg.RetryPolicy(max_retries=6, delay=1, backoff=dg.Backoff.EXPONENTIAL)
)
def reliability_partition(
    context: dg.AssetExecutionContext, config: WriteConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    day = context.partition_time_window.start.date()
    data = pa.table(
        {
            "day": pa.array([day] * config.rows, pa.date32()),
            "seq": pa.array(np.arange(config.rows, dtype=np.int32)),
            "version": pa.array(np.full(config.rows, config.version, dtype=np.int32)),
            "value": pa.array(np.arange(config.rows, dtype=np.float64) * 0.5),
        }
    )
    deleted = warehouse.replace_rows(TABLE, data, sql.SQL("day = %s"), [day])
    return dg.MaterializeResult(metadata={"dagster/row_count": config.rows, "rows_replaced": deleted})


def versions(url: str, day: date) -> dict[int, int]:
    """Rows of the partition by version, as another session sees them."""
    with psycopg.connect(url, connect_timeout=5) as conn:
        query = f"SELECT version, count(*) FROM {TABLE} WHERE day = %s GROUP BY version"
        return dict(conn.execute(query, [day]).fetchall())


def paused_in_copy(url: str) -> bool:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'").fetchone()
        return bool(row and row[0])


class Restarter(threading.Thread):
    """Waits for the paused COPY, restarts the server, and records what another session saw."""

    def __init__(self, scratch: ScratchPostgres) -> None:
        super().__init__(daemon=True)
        self.scratch = scratch
        self.seen: dict[str, dict[int, int]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            wait_for(lambda: paused_in_copy(self.scratch.url), 120, "the COPY reaching its middle row")
            self.seen["during the write"] = versions(self.scratch.url, DAY)
            self.scratch.stop()
            self.scratch.start()
            self.seen["after the restart"] = versions(self.scratch.url, DAY)
        except BaseException as error:  # reported by the scenario
            self.error = error


def materialize(
    url: str, partition: date, version: int, rows: int, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [reliability_partition],
        partition_key=partition.isoformat(),
        resources={"warehouse": WarehouseResource(database_url=url)},
        run_config=dg.RunConfig(
            ops={"reliability_partition": WriteConfig(version=version, rows=rows)}, loggers=QUIET_LOGGERS
        ),
        instance=instance,
        raise_on_error=False,
    )


def run(short: bool) -> ScenarioResult:
    rows = 200_000 if short else 2_000_000
    result = ScenarioResult("PostgreSQL restarted during a partition write")
    with scratch_postgres() as scratch, dg.instance_for_test() as instance:
        with psycopg.connect(scratch.url, autocommit=True) as conn:
            conn.execute(SETUP_SQL.format(table=TABLE, middle=rows // 2))
        for day in (DAY, OTHER_DAY):
            assert materialize(scratch.url, day, 1, rows, instance).success
        restarter = Restarter(scratch)
        restarter.start()
        run_result = materialize(scratch.url, DAY, 2, rows, instance)
        restarter.join(timeout=300)
        if restarter.error:
            raise restarter.error
        retries = [e for e in run_result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
        first_error = step_error_message(retries[0]) if retries else ""
        final = versions(scratch.url, DAY)
        other = versions(scratch.url, OTHER_DAY)
    result.figures = {
        "rows per partition": f"{rows:,}",
        "restart": f"pg_ctl stop -m fast + start, during the COPY (paused at row {rows // 2:,})",
        "first attempt": first_error.strip().splitlines()[0][:120] if first_error else "did not fail",
        "attempts": len(retries) + 1,
        "run": "SUCCESS" if run_result.success else "FAILURE",
        "visible during the write": _show(restarter.seen.get("during the write")),
        "visible after the restart": _show(restarter.seen.get("after the restart")),
        "final partition": _show(final),
        "other partition": _show(other),
    }
    if not retries:
        result.lost.append("the restart did not hit the write (scenario did not exercise the fault)")
    if not run_result.success:
        result.lost.append("the retry did not complete")
    if final != {2: rows}:
        result.lost.append(f"partition holds {_show(final)}, expected v2: {rows:,}")
    if other != {1: rows}:
        result.lost.append(f"the other partition changed: {_show(other)}")
    for moment, seen in restarter.seen.items():
        if seen not in ({1: rows}, {2: rows}):
            result.lost.append(f"partial rows visible {moment}: {_show(seen)}")
    return result


def _show(counts: dict[int, int] | None) -> str:
    if counts is None:
        return "not observed"
    return ", ".join(f"v{version}: {count:,} rows" for version, count in sorted(counts.items())) or "no rows"
