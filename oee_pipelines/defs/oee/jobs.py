"""The daily OEE job: the OEE chain of one UTC day partition.

Its 02:00 UTC run is `publish_yesterday_daily` (defs/exports/schedules.py), which rebuilds this chain
and publishes the files in the same run.

Ranged backfills (`dagster asset materialize --partition-range` or the asset graph's backfill dialog)
run as one run per range (BackfillPolicy.single_run); a job page cannot launch a range (#17665).
Late data between runs is handled by `automation.rebuild_on_late_data` on each asset.
"""

import dagster as dg

OEE_DAILY_JOB = "oee_daily_job"
OEE_CHAIN = (
    "operator_shifts",
    "enriched_telemetry",
    "oee_downtime_events",
    "oee_snapshots",
    "shift_reports",
    "oee_data_mart",
)

oee_daily_job = dg.define_asset_job(
    OEE_DAILY_JOB,
    selection=dg.AssetSelection.assets(*OEE_CHAIN),
    description="Enriched telemetry -> downtime -> OEE snapshots -> shift reports -> data mart, per UTC day.",
)
