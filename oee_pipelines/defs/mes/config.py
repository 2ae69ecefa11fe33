"""Run configuration of the MES/ERP assets: the sync window, the line, recipes asked for by name.

The API and the demo pass these as run config (`ops: {mes_sync: {config: {...}}}`, built by
`services/mes_erp/run_requests.py`); `window()` parses the bounds once into a `SyncWindow`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from oee_pipelines.services.mes_erp.window import SyncWindow, sync_window


class SyncWindowConfig(dg.Config):
    """The sync window (default now-1 day .. now+7 days) and the line (default: every active line)."""

    start: str | None = Field(default=None, description="ISO 8601 date or datetime (UTC); default now-1 day")
    end: str | None = Field(default=None, description="ISO 8601 date or datetime (UTC); default now+7 days")
    line_id: str | None = Field(default=None, description="one line; default every active line")

    def window(self) -> SyncWindow:
        return sync_window(self.start, self.end, datetime.now(UTC))


class MesSyncConfig(SyncWindowConfig):
    recipe_ids: list[str] = Field(
        default=[], description="recipes to download even if no schedule names them (recorded as downloads)"
    )
    downloaded_by: str = Field(default="dagster", description="who asked, for `recipe_downloads`")


class PushbackConfig(dg.Config):
    work_order_ids: list[str] = Field(
        default=[], description="push only these work orders (default: every completed order)"
    )
