"""Ground truth: the pipeline's OEE for the demo plant over a simulated week equals the simulator's.

The simulator computes its truth from its own event log (`simulator/truth.py`, no pipeline code).
The pipeline sees only what a historian would deliver: telemetry in the lake, reference data, work
orders and schedules in the warehouse. Every snapshot's availability, performance, quality and OEE
must match within 0.01 percentage points, and so must the planned and unplanned downtime minutes of
every window, both in the snapshots and in the data mart (downtime events overlapping the window).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines_tests.support.plant_days import load_plant, materialize_days

pytestmark = pytest.mark.slow  # a simulated week through the OEE chain (about two minutes)

FIRST, LAST = date(2025, 1, 13), date(2025, 1, 19)  # Monday to Sunday: weekend windows are NULL
TOLERANCE = 0.01
# Pipeline (data mart) column -> truth column.
COMPARED = {
    "availability_pct": "availability_pct",
    "performance_raw_pct": "performance_pct",
    "quality_pct": "quality_pct",
    "oee_pct": "oee_pct",
    "planned_downtime_minutes": "planned_downtime_minutes",
    "unplanned_downtime_minutes": "unplanned_downtime_minutes",
    "snapshot_planned_downtime": "planned_downtime_minutes",
    "snapshot_unplanned_downtime": "unplanned_downtime_minutes",
    "planned_production_time": "planned_production_minutes",
    "actual_production_time": "run_minutes",
    "total_pieces": "total_pieces",
    "good_pieces": "good_pieces",
}


def run_week(database_url: str, lake_root: str) -> tuple[SimulatedPlant, pd.DataFrame]:
    """The pipeline over the week; the mart rows with the snapshots' own downtime beside them."""
    loaded = load_plant(database_url, lake_root, FIRST, LAST)
    assert materialize_days(loaded, FIRST, LAST).success
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            """SELECT m.*, s.planned_downtime AS snapshot_planned_downtime,
                      s.unplanned_downtime AS snapshot_unplanned_downtime
               FROM oee_data_mart_table m JOIN oee_snapshots s ON s.id = m.snapshot_id"""
        )
        mart = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description or []])
    return loaded.plant, mart


def mismatches(mart: pd.DataFrame, truth: pd.DataFrame) -> dict[str, int]:
    """Windows per compared figure where pipeline and truth differ (NULL on one side only counts)."""
    joined = mart.merge(truth, on=["machine_id", "snapshot_time"], how="outer", suffixes=("", "_truth"))
    counts = {}
    for ours, theirs in COMPARED.items():
        theirs = f"{theirs}_truth" if theirs in mart.columns else theirs
        mine = pd.to_numeric(joined[ours], errors="coerce").astype(float).to_numpy()
        true = pd.to_numeric(joined[theirs], errors="coerce").astype(float).to_numpy()
        both_null = np.isnan(mine) & np.isnan(true)
        close = np.abs(mine - true) <= TOLERANCE
        counts[ours] = int((~(both_null | close)).sum())
    return counts


def test_every_window_of_the_week_matches_the_simulators_truth(clean_database: str, tmp_path: Path) -> None:
    plant, mart = run_week(clean_database, str(tmp_path / "lake"))
    truth = plant.true_oee(FIRST, date(2025, 1, 20))
    assert len(mart) == len(truth) == 16 * 96 * 7
    assert mismatches(mart, truth) == dict.fromkeys(COMPARED, 0)
    # The comparison has substance: weekend NULLs, downtime of both kinds, imperfect factors.
    assert truth["oee_pct"].isna().sum() > 16 * 96 * 2
    assert (truth["unplanned_downtime_minutes"] > 0).sum() > 300
    assert (truth["planned_downtime_minutes"] > 0).sum() > 300
    assert (truth["availability_pct"].dropna() < 100).sum() > 500
    assert truth["performance_pct"].dropna().between(1, 99.99).sum() > 3000
    # And it can fail: a truth judged with another microstop threshold differs from the pipeline.
    skewed = dataclasses.replace(plant.description, microstop_threshold_seconds=300)
    differing = mismatches(mart, SimulatedPlant(skewed, seed=plant.seed).true_oee(FIRST, date(2025, 1, 20)))
    assert differing["unplanned_downtime_minutes"] > 50
    assert differing["availability_pct"] > 50
    assert differing["performance_raw_pct"] > 50  # OEE itself does not depend on where the split lies
