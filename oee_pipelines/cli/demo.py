"""`oee demo`: the main job end to end on the embedded defaults, then a summary.

Starts what it needs (the embedded PostgreSQL), runs every stage of the pipeline for the demo
days, prints rows per asset, OEE per line and where the outputs are, and stops what it started.
Re-running replaces the same partitions, so nothing is duplicated.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import dagster as dg

from oee_pipelines.cli.dagster_home import (
    QUIET_LOGS,
    apply_pool_limits,
    cli_instance,
    ensure_dagster_home,
    load_definitions,
)
from oee_pipelines.cli.imports import run_import_demo
from oee_pipelines.cli.iot import run_iot_demo
from oee_pipelines.cli.onboarding import PLANT_MODEL_VARIABLE, run_plant_onboarding, write_demo_plant_model
from oee_pipelines.cli.progress import ProgressDisplay
from oee_pipelines.cli.run_progress import execute_with_progress
from oee_pipelines.services.mes_erp.run_requests import demo_window_run_config
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.serve import SimulatedSources
from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres
from oee_pipelines.storage.migrations import migrate
from oee_pipelines.storage.warehouse import resolve_database_url

DEFAULT_DEMO_START = date(2025, 1, 13)  # a Monday: the seed's example day 2025-01-15 is inside
DEFAULT_DEMO_DAYS = 3


@dataclass(frozen=True)
class DemoStep:
    job_name: str
    partitioned: bool  # daily partitions over the demo days, as one single-run backfill
    doing: str  # what the step does, printed when it starts
    # Run config for the demo days [first, last], for unpartitioned jobs that take a window.
    run_config: Callable[[date, date], dict[str, Any]] | None = None
    # A step that is more than one job run (IoT: broker, ingester, then the landing job).
    run: Callable[[dg.Definitions, dg.DagsterInstance, date, date], None] | None = None


DEMO_STEPS = [
    # The simulated plant onboards like any plant: its plant model file, applied (docs/onboarding.md).
    DemoStep(
        "plant model",
        partitioned=False,
        doing="applying the plant model file and templates",
        run=run_plant_onboarding,
    ),
    DemoStep(
        "iot_landing_job",
        partitioned=False,
        doing="publishing sensor readings over MQTT, buffering and landing them by hour",
        run=run_iot_demo,
    ),
    DemoStep(
        "mes_erp_sync_job",
        partitioned=False,
        doing="syncing orders, recipes, materials and labor costs",
        run_config=demo_window_run_config,
    ),
    DemoStep(
        "import_file_job",
        partitioned=False,
        doing="importing CSV files dropped into the inbox",
        run=run_import_demo,
    ),
    # The demo days from the simulated PI / AVEVA servers through the historian connectors.
    DemoStep("historian_backfill_job", partitioned=True, doing="backfilling the days from PI and AVEVA"),
    # Enriched telemetry -> downtime -> OEE snapshots -> shift reports -> data mart (OEE per line).
    DemoStep(
        "oee_daily_job",
        partitioned=True,
        doing="enriching telemetry, checking quality, computing downtime, OEE and the data mart",
    ),
    # Completed orders' good pieces (now in oee_snapshots) back to the MES.
    DemoStep("mes_order_status_job", partitioned=False, doing="pushing completed orders back to the MES"),
    # Publishes the files of the tables the OEE job built: keep it after the OEE job.
    DemoStep("published_files_job", partitioned=True, doing="writing the published files per table and day"),
]
# The simulated MES/ERP serve orders for the demo days plus this margin either side.
SOURCE_MARGIN = timedelta(days=7)
# Dagster's PostgreSQL storage opens a connection for every event it writes unless told to keep a
# pool (dagster-webserver does): a quarter of Dagster's own time in the demo's runs went to
# connecting (benchmarks/bench_dagster_overhead.py). The demo's one instance keeps a small pool;
# statement_timeout 0 leaves PostgreSQL's default (none).
STORAGE_POOL = {"statement_timeout": 0, "pool_recycle": 3600, "max_overflow": 4}
# A ranged run (the IoT landing's hours, the historian's, OEE and published files' days) logs one
# materialization per partition at the end of its step. Unless DAGSTER_EVENT_BATCH_SIZE is set, Dagster
# stores each in a transaction of its own (the event row, its tags, the asset row): 72 for the IoT
# landing. With it, dagster-postgres inserts the batch's rows in one statement and updates the asset row
# once, from the last event: the same rows. Events without batch metadata are stored one by one as before.
EVENT_BATCH_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = "100"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the main job end to end on the embedded defaults")
    parser.add_argument(
        "--start", type=date.fromisoformat, default=DEFAULT_DEMO_START, help="first day (UTC)"
    )
    parser.add_argument("--days", type=int, default=DEFAULT_DEMO_DAYS, help="number of days")
    parser.add_argument("--keep-running", action="store_true", help="leave the embedded PostgreSQL running")
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    embedded = EmbeddedPostgres(settings.embedded_pgdata)
    started_here = not settings.database_url and not embedded.is_running()
    url = resolve_database_url(settings)
    first, last = args.start, args.start + timedelta(days=args.days - 1)
    batch_event_writes()
    try:
        home = ensure_dagster_home(settings, url)
        migrate(url)
        with contextlib.ExitStack() as stack:
            if not settings.sources.origin:
                # No plant systems configured (OEE_CONFIG_FILE / OEE_CONFIG_DIR): use the simulated plant.
                sources = stack.enter_context(_simulated_sources(settings, first, last))
                config_file = sources.write_connector_config(settings.data_dir / "simulated_sources.yml")
                os.environ["OEE_CONFIG_FILE"] = str(config_file)
                print(f"simulated source systems: {', '.join(sources.base_urls().values())}")
            # The simulated plant onboards like any plant: its model file, applied by `plant_model`.
            os.environ[PLANT_MODEL_VARIABLE] = str(write_demo_plant_model(settings))
            definitions = load_definitions()
            with cli_instance(home) as instance, ProgressDisplay() as display:
                keep_storage_connections(instance)
                apply_pool_limits(instance)
                for number, step in enumerate(DEMO_STEPS, start=1):
                    display.note(f"[{number}/{len(DEMO_STEPS)}] {step.job_name}: {step.doing}")
                    _run_step(definitions, instance, step, first, last)
        _print_summary(url, settings, first, last)
    finally:
        if started_here and not args.keep_running:
            embedded.stop()
    return 0


def batch_event_writes(environ: MutableMapping[str, str] = os.environ) -> None:
    """A ranged run's materializations are stored as one batch (unless DAGSTER_EVENT_BATCH_SIZE is set)."""
    environ.setdefault(EVENT_BATCH_VARIABLE, EVENT_BATCH_SIZE)


def keep_storage_connections(instance: dg.DagsterInstance) -> None:
    """The instance's PostgreSQL storages keep a small connection pool for the demo's runs."""
    instance.optimize_for_webserver(**STORAGE_POOL)


def _simulated_sources(settings: Settings, first: date, last: date) -> SimulatedSources:
    plant = SimulatedPlant(load_plant_description(settings.plant_file), seed=settings.simulator_seed)
    window_start = datetime.combine(first, clock.min, tzinfo=UTC) - SOURCE_MARGIN
    window_end = datetime.combine(last, clock.min, tzinfo=UTC) + SOURCE_MARGIN
    return SimulatedSources(plant, window_start, window_end)


def _run_step(
    definitions: dg.Definitions, instance: dg.DagsterInstance, step: DemoStep, first: date, last: date
) -> None:
    if step.run is not None:
        step.run(definitions, instance, first, last)
        return
    job = definitions.resolve_job_def(step.job_name)
    tags = (
        {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
        if step.partitioned
        else {}
    )
    started = time.monotonic()
    run_config = {**QUIET_LOGS, **(step.run_config(first, last) if step.run_config else {})}
    result = execute_with_progress(job, instance, tags=tags, run_config=run_config)
    if not result.success:
        raise SystemExit(f"oee demo: {step.job_name} failed (run {result.run_id}); see the Dagster UI")
    print(f"ran {step.job_name:<32} in {time.monotonic() - started:5.1f} s  (run {result.run_id[:8]})")


def _print_summary(url: str, settings: Settings, first: date, last: date) -> None:
    from oee_pipelines.cli.summary import print_summary

    print_summary(url, settings, first, last)
