"""A small simulated plant in Europe/Warsaw, for the daylight-saving days of `test_daylight_saving.py`.

One site in Europe/Warsaw, three shifts (06-14, 14-22, 22-06 local) every day of the week (the
European changes fall on Sundays), one line of two machines. The simulator serves it the way the
demo does (its MES REST server and its PI Web API server), each on a free loopback port, and the
pipeline reaches them only through the connector configuration (`OEE_CONFIG_FILE`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import yaml

from oee_pipelines.cli.dagster_home import QUIET_LOGS, load_definitions
from oee_pipelines.services.mes_erp.run_requests import MES_SCHEDULE_SYNC_JOB, mes_sync_run_config
from oee_pipelines.simulator.description import parse_plant_description
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.simulator.registry import PI_STATE_NAMES
from oee_pipelines.simulator.serve import SIMULATED_SYSTEMS
from oee_pipelines.simulator.servers.mes_rest import MesRestSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import PointSource
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.source_data import SourceData

ORG = "wawa"
WARSAW = "Europe/Warsaw"
TOLERANCE = 0.01  # percentage points, as test_ground_truth.py
# Ground-truth columns a shift's roll-up sums before computing its factors.
SUMMED = [
    "scheduled_minutes",
    "planned_production_minutes",
    "run_minutes",
    "ideal_run_minutes",
    "total_pieces",
    "good_pieces",
]
PLANT = {
    "organization_id": ORG,
    "organization_name": "Wawa Bottling",
    "id_prefix": "WAW-",
    "weekdays": [1, 2, 3, 4, 5, 6, 7],
    "sensor_interval_seconds": 60,
    "shifts": [
        {"name": "Early", "start": "06:00", "end": "14:00"},
        {"name": "Late", "start": "14:00", "end": "22:00"},
        # The night break 4 h after the start: 03:00-03:30 CEST on the spring night (just after
        # the jump), 02:00-02:30 CEST (the first of the two) on the autumn night.
        {"name": "Night", "start": "22:00", "end": "06:00"},
    ],
    "products": [
        {"code": "BTL-500", "name": "Bottle 500 ml", "ideal_cycle_time_s": 1.5, "target_cycle_time_s": 1.7},
        {"code": "BTL-1000", "name": "Bottle 1 l", "ideal_cycle_time_s": 2.0, "target_cycle_time_s": 2.2},
    ],
    "sites": [
        {
            "name": "Warsaw Plant",
            "timezone": WARSAW,
            "lines": [
                {
                    "name": "Bottling W1",
                    "machines": 2,
                    "machine_type": "filler",
                    "products": ["BTL-500", "BTL-1000"],
                }
            ],
        }
    ],
}


@dataclass(frozen=True)
class ChangeDay:
    """A daylight-saving change day and the UTC day partitions the pipeline runs for it."""

    name: str
    local_day: date  # the Sunday of the change
    utc_days: tuple[date, date]  # the partitions holding the local day and the night before it
    windows: int  # fifteen-minute windows of the local day
    night_hours: int  # the night shift starting the evening before


SPRING = ChangeDay("spring", date(2025, 3, 30), (date(2025, 3, 29), date(2025, 3, 30)), 92, 7)
AUTUMN = ChangeDay("autumn", date(2025, 10, 26), (date(2025, 10, 25), date(2025, 10, 26)), 100, 9)


def warsaw_plant() -> SimulatedPlant:
    return SimulatedPlant(parse_plant_description(PLANT), seed=7)


def utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@contextlib.contextmanager
def simulated_sources(plant: SimulatedPlant, change: ChangeDay) -> Iterator[dict[str, Any]]:
    """The plant's MES REST and PI Web API servers around a change day, on free ports; yields the
    connector configuration (the `OEE_CONFIG_FILE` content) pointing at them."""
    first, last = utc_midnight(change.utc_days[0]), utc_midnight(change.utc_days[1])
    source = SourceData.from_plant(plant, first - timedelta(days=2), last + timedelta(days=3))
    # Cumulative counters start the day before: nothing is generated for the months in between.
    points = PointSource.from_plant(
        plant, "pi", counter_epoch=change.utc_days[0] - timedelta(days=1), state_names=PI_STATE_NAMES
    )
    apps = {"mes_rest": MesRestSimulator(source).app, "pi_web_api": PiWebApiSimulator(points).app}
    with contextlib.ExitStack() as stack:
        config: dict[str, Any] = {}
        for system in SIMULATED_SYSTEMS:
            if system.name in apps:
                server = stack.enter_context(ServerThread(apps[system.name]))
                section, settings = system.config(server.base_url)
                config.setdefault(section, {}).update(settings)
        # The MES's records belong to this plant's organization; its numbers get the plant's id prefix.
        description = plant.description
        config["mes"].update(org_id=description.organization_id, id_prefix=description.id_prefix)
        yield config


def write_config(config: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_job(name: str, first: date, last: date, run_config: dict[str, Any] | None = None) -> None:
    """A job in process; partitioned jobs over [first, last] as one ranged run (single-run backfill)."""
    definitions = load_definitions()
    job = definitions.resolve_job_def(name)
    partitioned = name != MES_SCHEDULE_SYNC_JOB
    tags = (
        {
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        }
        if partitioned
        else {}
    )
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, tags=tags, run_config={**QUIET_LOGS, **(run_config or {})}, raise_on_error=True
        )
    assert result.success, name


def run_change_day(plant: SimulatedPlant, change: ChangeDay, config_file: Path) -> None:
    """MES schedule sync, historian backfill (plus the next day: its first readings close the last
    window) and the OEE job for the change day's UTC partitions, against the simulated sources."""
    first, last = change.utc_days
    with simulated_sources(plant, change) as config:
        write_config(config, config_file)
        window = mes_sync_run_config(
            utc_midnight(first) - timedelta(days=1), utc_midnight(last) + timedelta(days=2)
        )
        run_job(MES_SCHEDULE_SYNC_JOB, first, last, window)
        run_job("historian_backfill_job", first, last + timedelta(days=1))
        run_job("oee_daily_job", first, last)


def query(database_url: str, text: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(text, params)
        columns = [c.name for c in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def true_shift_oee(plant: SimulatedPlant, start: datetime, end: datetime) -> pd.DataFrame:
    """The simulator's ground truth rolled up per line shift instance lying wholly in [start, end):
    times and pieces summed over the windows and machines, then the factors (docs/oee-model.md)."""
    truth = plant.true_oee(start, end)
    site = plant.layout.sites[0]
    rows = []
    for instance in plant.calendar.shifts_between(site, start, end):
        if instance.start < start or instance.end > end:
            continue
        inside = truth[(truth["window_start"] >= instance.start) & (truth["window_start"] < instance.end)]
        for line_id, windows in inside.groupby("line_id"):
            sums = windows[SUMMED].sum()
            rows.append(
                {
                    "line_id": line_id,
                    "shift_id": instance.shift.id,
                    "shift_date": instance.shift_date,
                    "shift_start": pd.Timestamp(instance.start),
                    "shift_end": pd.Timestamp(instance.end),
                    **sums.to_dict(),
                }
            )
    frame = pd.DataFrame(rows)
    planned, run = frame["planned_production_minutes"], frame["run_minutes"]
    frame["availability_pct"] = 100.0 * run / planned
    frame["performance_raw_pct"] = 100.0 * frame["ideal_run_minutes"] / run
    frame["quality_pct"] = 100.0 * frame["good_pieces"] / frame["total_pieces"]
    frame["oee_pct"] = (
        frame["availability_pct"] * frame["performance_raw_pct"] * frame["quality_pct"] / 10_000
    )
    return frame


def differing(pipeline: pd.DataFrame, truth: pd.DataFrame, columns: dict[str, str]) -> dict[str, list[str]]:
    """Per compared column, the shifts (`shift_id@shift_date`) where pipeline and truth differ."""
    keys = ["line_id", "shift_id", "shift_date"]
    joined = truth.merge(pipeline, on=keys, how="left", suffixes=("_truth", ""))
    found = {}
    for ours, theirs in columns.items():
        mine = pd.to_numeric(joined[ours], errors="coerce").astype(float).to_numpy()
        true = pd.to_numeric(joined[f"{theirs}_truth" if theirs in pipeline.columns else theirs]).to_numpy(
            float
        )
        wrong = ~(np.abs(mine - true) <= TOLERANCE)
        found[ours] = [f"{row.shift_id}@{row.shift_date}" for row in joined[wrong].itertuples()]
    return found
