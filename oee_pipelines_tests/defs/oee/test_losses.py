"""`oee_losses` over the demo plant against the simulator's ground truth, and its reconciliation check.

The truth (`simulator/truth.py`, no pipeline code) splits every window into fully productive time,
the six big losses and unknown time from the simulator's own event log. The pipeline sees only the
telemetry in the lake and the plan in the warehouse. Two days, so a midnight lies between them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import psycopg
import pytest

from oee_pipelines.cli.summary import print_summary
from oee_pipelines.defs.oee.losses import losses_reconcile_with_planned_production_time, oee_losses
from oee_pipelines.domain.losses import LOSS_TREE
from oee_pipelines.services.oee.losses import day_reconciliation, six_loss_summary
from oee_pipelines.settings import Settings
from oee_pipelines_tests.support.plant_days import OEE_ASSETS, OEE_CHECKS, LoadedPlant

FIRST, LAST = date(2025, 1, 14), date(2025, 1, 15)  # Tuesday and Wednesday
TOLERANCE = 0.01
SIX_LOSSES = [
    "breakdowns_minutes",
    "setup_adjustments_minutes",
    "small_stops_minutes",
    "reduced_speed_minutes",
    "startup_rejects_minutes",
    "production_rejects_minutes",
]
TREE_COLUMNS = [f"{category}_minutes" for category in LOSS_TREE]


def materialize(
    loaded: LoadedPlant, last: date = LAST, assets: list | None = None, **kwargs: object
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets or [*OEE_ASSETS, oee_losses, *OEE_CHECKS, losses_reconcile_with_planned_production_time],
        resources=loaded.resources,
        tags={
            "dagster/asset_partition_range_start": FIRST.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
        **kwargs,  # type: ignore[arg-type]
    )


def query(url: str, statement: str) -> pd.DataFrame:
    with psycopg.connect(url) as conn:
        cursor = conn.execute(statement)  # type: ignore[arg-type]
        return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description or []])


def pipeline_tree(url: str) -> pd.DataFrame:
    """Minutes per machine, UTC day and loss-tree category, one column per category."""
    rows = query(url, "SELECT machine_id, day, loss_category, minutes FROM oee_losses")
    wide = rows.pivot_table(
        index=["machine_id", "day"], columns="loss_category", values="minutes", aggfunc="sum", fill_value=0.0
    ).reindex(columns=list(LOSS_TREE), fill_value=0.0)
    wide.columns = TREE_COLUMNS
    return wide


def truth_tree(loaded: LoadedPlant) -> pd.DataFrame:
    truth = loaded.plant.true_oee(FIRST, LAST + timedelta(days=1))
    truth["day"] = truth["window_start"].dt.date
    return truth.groupby(["machine_id", "day"])[[*TREE_COLUMNS, "planned_production_minutes"]].sum()


def differing(ours: pd.DataFrame, theirs: pd.DataFrame, columns: list[str]) -> dict[str, int]:
    joined = ours.join(theirs, how="outer", rsuffix="_truth")
    return {
        column: int(
            (
                ~np.isclose(
                    joined[column].astype(float), joined[f"{column}_truth"].astype(float), atol=TOLERANCE
                )
            ).sum()
        )
        for column in columns
    }


def test_every_machine_days_loss_tree_matches_the_simulators_truth(
    plant_days, clean_database: str, record_property: Callable[[str, object], None]
) -> None:
    loaded = plant_days(FIRST, LAST)
    result = materialize(loaded)
    assert result.success
    check = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "losses_reconcile_with_planned_production_time"
    )
    assert check.passed and check.metadata["machine_days"].value == 16 * 2
    ours, truth = pipeline_tree(clean_database), truth_tree(loaded)
    assert len(ours) == len(truth) == 16 * 2
    assert differing(ours, truth, TREE_COLUMNS) == dict.fromkeys(TREE_COLUMNS, 0)
    # The comparison has substance: each of the six losses is there, on most machine-days.
    assert ((truth[SIX_LOSSES] > 0.5).sum() >= 16).all(), (truth[SIX_LOSSES] > 0.5).sum().to_dict()
    # The truth's own tree adds up, and so does the pipeline's against its snapshots.
    assert np.allclose(truth[TREE_COLUMNS].sum(axis=1), truth["planned_production_minutes"])
    with psycopg.connect(clean_database) as conn:
        gaps = day_reconciliation(conn, FIRST, LAST)
    assert len(gaps) == 32 and gaps["difference"].abs().max() < TOLERANCE
    largest = (ours - truth[TREE_COLUMNS]).abs().max().max()
    record_property(
        "loss tree, 16 machines x 2 days",
        f"minutes {ours.sum().round(1).to_dict()}; largest difference to the truth {largest:.2e} min, "
        f"to the snapshots' planned production time {gaps['difference'].abs().max():.2e} min",
    )


def test_the_snapshots_six_loss_columns_match_the_truth_window_by_window(
    plant_days, clean_database: str
) -> None:
    loaded = plant_days(FIRST, LAST)
    assert materialize(loaded).success
    snapshots = query(
        clean_database,
        "SELECT machine_id, snapshot_time, breakdowns_minutes, setup_adjustments_minutes, "
        "small_stops_minutes, reduced_speed_minutes, startup_rejects_minutes, production_rejects_minutes "
        "FROM oee_snapshots",
    ).set_index(["machine_id", "snapshot_time"])
    truth = loaded.plant.true_oee(FIRST, LAST + timedelta(days=1)).set_index(["machine_id", "snapshot_time"])
    assert len(snapshots) == len(truth) == 16 * 96 * 2
    assert differing(snapshots, truth[SIX_LOSSES], SIX_LOSSES) == dict.fromkeys(SIX_LOSSES, 0)
    # The reason hierarchy beneath the stop losses names the simulator's codes.
    reasons = query(
        clean_database,
        "SELECT loss_category, reason_code, sum(occurrences) AS stops FROM oee_losses "
        "WHERE reason_code IS NOT NULL GROUP BY 1, 2",
    )
    by_loss = reasons.groupby("loss_category")["reason_code"].apply(set).to_dict()
    assert by_loss["breakdowns"] >= {"BRK-MECH", "BRK-ELEC"}
    assert by_loss["setup_adjustments"] == {"ADJUST"}
    assert by_loss["small_stops"] >= {"JAM"}
    assert (reasons["stops"] > 0).all()


def test_a_broken_reconciliation_fails_the_blocking_check(plant_days, clean_database: str) -> None:
    loaded = plant_days(FIRST, FIRST)
    assert materialize(loaded, FIRST, list(OEE_ASSETS)).success
    # One window's planned production time no longer matches its machine's timeline.
    with psycopg.connect(clean_database) as conn:
        conn.execute(
            "UPDATE oee_snapshots SET planned_production_time = planned_production_time + 0.5 "
            "WHERE id = (SELECT min(id) FROM oee_snapshots WHERE planned_production_time > 1)"
        )
    result = materialize(
        loaded, FIRST, [oee_losses, losses_reconcile_with_planned_production_time], raise_on_error=False
    )
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["machine_days_off"].value == 1
    assert evaluation.metadata["largest_difference_minutes"].value == 0.5


def test_the_six_loss_summary_per_line_reconciles_to_planned_production_time(
    plant_days, clean_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = plant_days(FIRST, FIRST)
    assert materialize(loaded, FIRST, [*OEE_ASSETS, oee_losses]).success
    with psycopg.connect(clean_database) as conn:
        summary = six_loss_summary(conn, "demo", FIRST, FIRST)
        other = six_loss_summary(conn, "another-org", FIRST, FIRST)
    assert len(summary) == 4 and other.empty
    assert (summary["difference"].abs() < TOLERANCE).all()
    assert np.allclose(summary[TREE_COLUMNS].sum(axis=1), summary["loss_tree_minutes"])
    assert summary["oee_pct"].between(20, 99).all()
    # The demo's summary prints the breakdown beside OEE per line, each line reconciled.
    print_summary(clean_database, Settings.from_env({"OEE_DATA_DIR": str(tmp_path / "data")}), FIRST, FIRST)
    out = capsys.readouterr().out
    block = out.split("six big losses per line")[1].split("\n\n")[0].splitlines()
    assert "planned" in block[1] and "breakdown" in block[1] and "diff" in block[1]
    assert len(block) == 2 + 4
    for printed, line in zip(block[2:], summary.itertuples(index=False), strict=True):
        assert printed.split()[-1] in ("0.00", "-0.00")
        assert f"{line.oee_pct:5.2f} %" in printed and f"{line.planned_production_time:10.1f}" in printed


def test_the_six_loss_summary_does_not_depend_on_the_order_rows_were_stored_in(
    plant_days, clean_database: str
) -> None:
    """The demo printed 750.6 in one run and 750.7 in the next for the same losses: float sums taken
    in the table's physical order land on either side of a .x5 tie. The sums are exact now."""
    loaded = plant_days(FIRST, FIRST)
    assert materialize(loaded, FIRST, [*OEE_ASSETS, oee_losses]).success
    summaries = []
    with psycopg.connect(clean_database) as conn:
        for order in ("minutes ASC", "minutes DESC"):
            conn.execute(f"CREATE TEMP TABLE stored AS SELECT * FROM oee_losses ORDER BY {order}")
            conn.execute("DELETE FROM oee_losses")
            conn.execute("INSERT INTO oee_losses SELECT * FROM stored")
            conn.execute("DROP TABLE stored")
            summaries.append(six_loss_summary(conn, "demo", FIRST, FIRST))
    pd.testing.assert_frame_equal(summaries[0], summaries[1], check_exact=True)
