"""A 30-day historian + OEE backfill on one and on two Celery workers (issue 16, item 3).

The deployment of `oee_pipelines_tests/support/celery_workers.py` (Redis broker, `dagster-celery`
workers with one task slot each, webserver, daemon with the queued run coordinator) on a scratch
embedded PostgreSQL, against the simulated PI and AVEVA servers. Timed: one backfill of the
historian and the OEE chain together, launched through GraphQL as the UI launches it, until it
completed; `OEE_BACKFILL_DAYS_PER_RUN=7`, so 30 days are 5 runs, each holding the historian's step
and the chain's, 4 at most at once. The deployment's start-up is not timed. `ratio` = two workers'
wall time / one worker's.
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from oee_pipelines.defs.oee.jobs import OEE_CHAIN
from oee_pipelines_tests.support.celery_workers import celery_deployment, historian_sections, seed_plant
from oee_pipelines_tests.support.historian import Historians, running_historians
from oee_pipelines_tests.support.plant_days import demo_plant
from oee_pipelines_tests.support.webserver import write_connector_config

from .common import scratch_warehouse

FIRST = date(2025, 1, 6)
DAYS_PER_RUN = 7
MAX_CONCURRENT_RUNS = 4
BACKFILL_SECONDS = 1800


def _backfill_seconds(url: str, historians: Historians, folder: Path, workers: int, last: date) -> float:
    lake = folder / "lake"
    env = {
        "OEE_CONFIG_FILE": str(write_connector_config(folder / "c.yml", historian_sections(historians))),
        "OEE_DATABASE_URL": url,
        "OEE_DATA_DIR": str(folder / "data"),
        "OEE_LAKE_ROOT": str(lake),
    }
    names = [f"worker-{index}" for index in range(1, workers + 1)]
    with celery_deployment(folder, env, names, DAYS_PER_RUN, MAX_CONCURRENT_RUNS) as deployment:
        started = time.perf_counter()
        deployment.backfill(["historian_points", *OEE_CHAIN], FIRST, last, BACKFILL_SECONDS)
        return time.perf_counter() - started


def run(quick: bool) -> list[dict]:
    days = 7 if quick else 30
    last = FIRST + timedelta(days=days - 1)
    seconds: dict[int, float] = {}
    with scratch_warehouse() as url, tempfile.TemporaryDirectory(prefix="oee-bench-celery-") as tmp:
        seed_plant(url, str(Path(tmp) / "seed-lake"), FIRST, last)
        with running_historians(demo_plant()) as historians:
            for workers in (1, 2):
                folder = Path(tmp) / f"workers-{workers}"
                folder.mkdir()
                seconds[workers] = _backfill_seconds(url, historians, folder, workers, last)
    return [
        {
            "name": f"{days}-day historian + OEE backfill, 2 Celery workers (wall)",
            "value": seconds[2],
            "unit": "s",
            "baseline_name": "1 Celery worker",
            "baseline_value": seconds[1],
            "ratio": seconds[2] / seconds[1],
        }
    ]
