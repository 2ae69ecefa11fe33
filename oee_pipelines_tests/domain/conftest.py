"""Small literal frames shared by the OEE domain tests: one line, two machines, a reason-code table."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from oee_pipelines.domain.downtime import Timeline, build_timeline
from oee_pipelines_tests.support.telemetry_rows import utc


@pytest.fixture
def machines() -> pd.DataFrame:
    return pd.DataFrame({"id": ["M1", "M2"], "org_id": "demo", "line_id": "L1"})


@pytest.fixture
def reason_codes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "org_id": "demo",
            "code": ["BREAK", "BRK-MECH", "CHANGEOVER", "STARVED"],
            "category": ["planned", "equipment", "setup", "flow"],
            "name": ["Break", "Mechanical breakdown", "Changeover", "Starved"],
            "is_planned": [True, False, False, False],
            "loss_category": ["planned_stop", "breakdowns", "setup_adjustments", "small_stops"],
        }
    )


@pytest.fixture
def line_shifts() -> pd.DataFrame:
    """Two shifts on line L1: 06:00-10:15 and 10:15-14:00 on 2025-01-06 (UTC)."""
    return pd.DataFrame(
        {
            "org_id": "demo",
            "line_id": "L1",
            "shift_id": ["SHIFT-1", "SHIFT-2"],
            "shift_number": [1, 2],
            "shift_date": pd.Timestamp("2025-01-06").date(),
            "start": [utc("2025-01-06 06:00"), utc("2025-01-06 10:15")],
            "end": [utc("2025-01-06 10:15"), utc("2025-01-06 14:00")],
        }
    )


@pytest.fixture
def timeline_of(machines: pd.DataFrame, reason_codes: pd.DataFrame) -> Callable[..., Timeline]:
    """Build a timeline over 10:00-11:00 from literal telemetry rows."""

    def build(rows: list[dict], imported: pd.DataFrame | None = None, **kwargs: object) -> Timeline:
        return build_timeline(
            telemetry=pd.DataFrame(rows),
            reason_codes=reason_codes,
            machines=machines,
            range_start=kwargs.pop("range_start", utc("2025-01-06 10:00")),
            range_end=kwargs.pop("range_end", utc("2025-01-06 11:00")),
            imported_downtime=imported,
            **kwargs,  # type: ignore[arg-type]
        )

    return build
