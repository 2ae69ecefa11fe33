"""The MES/ERP sync schedule, driven by the seed's `sync:` block of the `mes` section.

- `schedule_sync_interval_minutes` (15) is the cron interval (`*/15 * * * *`, UTC);
- a source is synced when it is configured, `enabled`, and its `sync.auto_sync_enabled` is true;
- `bidirectional_updates: false` leaves the order status push-back out of the scheduled runs.

With nothing to sync the schedule is still defined, switched off; either way it can be switched in
the UI.
"""

from __future__ import annotations

import dagster as dg

from oee_pipelines.config.connectors import ConnectorsConfig, SyncConfig
from oee_pipelines.defs.mes.jobs import mes_erp_sync_job
from oee_pipelines.services.mes_erp.run_requests import PUSHBACK_OPERATION
from oee_pipelines.services.source_systems import ERP, MES, source_system_tags
from oee_pipelines.settings import Settings

SYNC_SCHEDULE = "mes_erp_sync_schedule"
# The job of the schedule when it syncs less than everything (a source off, or no push-back).
SCHEDULED_SYNC_JOB = "mes_erp_scheduled_sync_job"


def scheduled_groups(sources: ConnectorsConfig) -> list[str]:
    """The asset groups (`mes`, `erp`) the schedule syncs."""
    groups = []
    for section in ("mes", "erp"):
        config = getattr(sources, section)
        if sources.source_enabled(section) and config.sync.auto_sync_enabled:
            groups.append(section)
    return groups


def build_sync_schedule(sources: ConnectorsConfig) -> dg.ScheduleDefinition:
    sync = sources.mes.sync if sources.mes is not None else SyncConfig()
    groups = scheduled_groups(sources)
    push_back = "mes" in groups and sync.bidirectional_updates
    job = mes_erp_sync_job
    if groups and (groups != ["mes", "erp"] or not push_back):
        selection: dg.AssetSelection = dg.AssetSelection.groups(*groups)
        if not push_back:
            selection = selection - dg.AssetSelection.assets(PUSHBACK_OPERATION)
        job = dg.define_asset_job(
            SCHEDULED_SYNC_JOB,
            selection=selection,
            # queued under the MES's limit when it syncs the MES, else under the ERP's
            tags=source_system_tags(MES if "mes" in groups else ERP),
            description=f"The scheduled sync of what the configuration switches on: {', '.join(groups)}.",
        )
    synced = " and ".join(section.upper() for section in groups) or "nothing (no enabled MES or ERP)"
    return dg.ScheduleDefinition(
        name=SYNC_SCHEDULE,
        job=job,
        cron_schedule=sync.cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING if groups else dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Syncs {synced} every {sync.schedule_sync_interval_minutes} minutes "
            f"(mes.sync.schedule_sync_interval_minutes; window: now-1 day .. now+7 days)"
            + ("" if push_back or "mes" not in groups else "; no push-back (bidirectional_updates: false)")
            + "."
        ),
    )


@dg.definitions
def schedules() -> dg.Definitions:
    return dg.Definitions(schedules=[build_sync_schedule(Settings.from_env().sources)])
