"""The 15-minute MES/ERP sync (seed: `schedule_sync_interval_minutes: 15`).

It starts switched on when the connector YAML has a `mes` section, and off otherwise (nothing to
sync from); either way it can be switched in the UI.
"""

from __future__ import annotations

import dagster as dg

from oee_pipelines.defs.mes.jobs import mes_erp_sync_job
from oee_pipelines.settings import Settings

MES_SYNC_CRON = "*/15 * * * *"


@dg.definitions
def schedules() -> dg.Definitions:
    configured = bool(Settings.from_env().connectors.get("mes"))
    return dg.Definitions(
        schedules=[
            dg.ScheduleDefinition(
                name="mes_erp_sync_every_15_minutes",
                job=mes_erp_sync_job,
                cron_schedule=MES_SYNC_CRON,
                execution_timezone="UTC",
                default_status=(
                    dg.DefaultScheduleStatus.RUNNING if configured else dg.DefaultScheduleStatus.STOPPED
                ),
                description="MES and ERP sync every 15 minutes (window: now-1 day .. now+7 days).",
            )
        ]
    )
