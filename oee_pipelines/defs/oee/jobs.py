"""The daily OEE job: the OEE chain of one UTC day partition.

Its 02:00 UTC run is `publish_yesterday_daily` (defs/exports/schedules.py), which rebuilds this chain
and publishes the files in the same run.

Ranged backfills (`dagster asset materialize --partition-range` or the asset graph's backfill dialog)
run as one run per `OEE_BACKFILL_DAYS_PER_RUN` days (`partitions.daily_backfill_policy`); a job page
cannot launch a range (#17665).
Late data between runs is handled by `automation.rebuild_on_late_data` on each asset.
"""

import dagster as dg

from oee_pipelines.services.source_systems import MES, source_system_tags

OEE_DAILY_JOB = "oee_daily_job"
OEE_CHAIN = (
    "operator_shifts",
    "enriched_telemetry",
    "oee_downtime_events",
    "oee_snapshots",
    "shift_reports",
    "oee_losses",  # the six big losses per machine, shift and day (defs/oee/losses.py)
    # The day's work orders' material consumption (MES) and variance (ERP), valued in the mart.
    "material_consumption",
    "production_variance",
    "oee_data_mart",
)

oee_daily_job = dg.define_asset_job(
    OEE_DAILY_JOB,
    selection=dg.AssetSelection.assets(*OEE_CHAIN),
    # `operator_shifts` reads the MES: the run queues under the MES's run limit.
    tags=source_system_tags(MES),
    description="Enriched telemetry -> downtime -> OEE snapshots -> shift reports -> data mart, per UTC day.",
    # Heavy steps, some side by side (shift reports beside the losses, the checks, the MES/ERP
    # valuation beside the enrichment): the code location's executor (OEE_EXECUTOR, defs/executor.py).
    executor_def=None,
)
