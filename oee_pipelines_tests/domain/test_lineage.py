"""`window_lineage`: which readings count toward a window's lineage, on literal cases."""

from __future__ import annotations

import pandas as pd

from oee_pipelines.domain.lineage import window_lineage


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"2025-01-14T{text}Z")


def test_readings_in_the_window_ends_included_and_the_state_in_effect_count() -> None:
    snapshots = pd.DataFrame(
        {
            "machine_id": ["M1", "M1", "M1", "M2"],
            "window_start": [ts("10:00"), ts("10:15"), ts("10:30"), ts("10:00")],
            "snapshot_time": [ts("10:15"), ts("10:30"), ts("10:45"), ts("10:15")],
        }
    )
    readings = pd.DataFrame(
        [
            ("M1", ts("09:40"), "machine_state", "pi", "run-a"),  # in effect at 10:00, 10:15, 10:30
            ("M1", ts("10:05"), "pieces_good", "mqtt", "run-b"),
            ("M1", ts("10:15"), "pieces_rejected", "import", "import-7"),  # on the boundary: both windows
            ("M1", ts("10:50"), "pieces_good", "http", "run-c"),  # after every window
            ("M2", ts("10:10"), "pieces_good", "mqtt", None),  # no run id: a system, no run
        ],
        columns=["machine_id", "ts", "signal", "source_system", "ingest_run_id"],
    )
    out = window_lineage(snapshots, readings)
    assert out["source_systems"].tolist() == [
        ["import", "mqtt", "pi"],
        ["import", "pi"],
        ["pi"],
        ["mqtt"],
    ]
    assert out["ingest_runs"].tolist() == [
        ["import-7", "run-a", "run-b"],
        ["import-7", "run-a"],
        ["run-a"],
        [],
    ]
    # The snapshots' own columns are untouched and in order.
    assert out["window_start"].tolist() == snapshots["window_start"].tolist()


def test_a_later_state_replaces_the_one_in_effect() -> None:
    snapshots = pd.DataFrame(
        {"machine_id": ["M1"], "window_start": [ts("11:00")], "snapshot_time": [ts("11:15")]}
    )
    readings = pd.DataFrame(
        [
            ("M1", ts("09:00"), "machine_state", "pi", "old-run"),
            ("M1", ts("10:59"), "machine_state", "aveva", "new-run"),
        ],
        columns=["machine_id", "ts", "signal", "source_system", "ingest_run_id"],
    )
    out = window_lineage(snapshots, readings)
    assert out.loc[0, "source_systems"] == ["aveva"] and out.loc[0, "ingest_runs"] == ["new-run"]
