"""The sync's decisions as pure functions: window, reference checks, what still needs pushing back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from oee_pipelines.connectors.mes.records import FetchResult
from oee_pipelines.services.mes_erp.sync import pushes_needed, reject_unknown_references
from oee_pipelines.services.mes_erp.window import sync_window

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def test_default_window_is_a_day_back_and_a_week_ahead() -> None:
    window = sync_window(None, None, NOW)
    assert (window.start, window.end) == (
        datetime(2025, 1, 14, 12, tzinfo=UTC),
        datetime(2025, 1, 22, 12, tzinfo=UTC),
    )
    assert (window.first_day, window.end_day) == (date(2025, 1, 14), date(2025, 1, 23))


def test_dates_are_midnight_utc_and_a_reversed_window_is_refused() -> None:
    window = sync_window("2025-01-13", "2025-01-16", NOW)
    assert (window.first_day, window.end_day) == (date(2025, 1, 13), date(2025, 1, 16))
    with pytest.raises(ValueError, match="must be after start"):
        sync_window("2025-01-16", "2025-01-13", NOW)
    with pytest.raises(ValueError, match="start: 'soon'"):
        sync_window("soon", None, NOW)


def test_rows_naming_unknown_ids_are_rejected_by_key_and_column() -> None:
    frame = pd.DataFrame({"external_id": ["S1", "S2", "S3"], "work_order_id": ["WO-1", None, "WO-9"]})

    checked = reject_unknown_references(
        FetchResult(frame), "production_schedule", "external_id", "work_order_id", {"WO-1"}, "work_orders"
    )

    assert list(checked.frame["external_id"]) == ["S1", "S2"]
    [rejected] = checked.rejected
    assert (rejected.key, rejected.field, rejected.reason) == (
        "S3",
        "work_order_id",
        "WO-9 is not in work_orders",
    )


def test_only_orders_that_differ_from_the_last_push_are_pushed() -> None:
    candidates = pd.DataFrame(
        {
            "work_order_id": ["WO-1", "WO-2", "WO-3", "WO-4"],
            "wo_number": ["1", "2", "3", "4"],
            "status": ["completed"] * 4,
            "actual_quantity": [100, 200, None, None],
            "pushed_status": [None, "completed", "completed", "completed"],
            "pushed_quantity": [None, 150, None, 10],
        }
    )

    needed = pushes_needed(candidates)

    assert list(needed["work_order_id"]) == ["WO-1", "WO-2", "WO-4"]
    assert list(needed["actual_quantity"].astype(object).where(needed["actual_quantity"].notna(), None)) == [
        100,
        200,
        None,
    ]
