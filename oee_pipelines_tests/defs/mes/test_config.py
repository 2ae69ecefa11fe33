"""The sync window crosses the run config once: typed bounds in, the same `SyncWindow` out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from oee_pipelines.defs.mes.config import MesSyncConfig, SyncWindowConfig
from oee_pipelines.services.mes_erp.run_requests import MES_OPERATION, mes_sync_run_config
from oee_pipelines.services.mes_erp.window import SyncWindow


def op_config(run_config: dict) -> dict:
    return run_config["ops"][MES_OPERATION]["config"]


def test_bounds_built_by_the_api_come_back_as_the_same_window() -> None:
    start = datetime(2025, 1, 13, 6, tzinfo=UTC)
    end = datetime(2025, 1, 14, 8, 30, tzinfo=timezone(timedelta(hours=2)))  # 06:30 UTC

    config = MesSyncConfig(**op_config(mes_sync_run_config(start=start, end=end, line_id="LINE-001")))

    assert config.window() == SyncWindow(start, datetime(2025, 1, 14, 6, 30, tzinfo=UTC))
    assert config.line_id == "LINE-001"


def test_missing_bounds_default_around_now_and_a_reversed_window_is_refused() -> None:
    window = SyncWindowConfig().window()
    assert window.end - window.start == timedelta(days=8)

    with pytest.raises(ValueError, match="must be after start"):
        SyncWindowConfig(start="2025-01-16", end="2025-01-13").window()
    with pytest.raises(ValueError, match="sync window end: 'Monday'"):
        SyncWindowConfig(end="Monday").window()
