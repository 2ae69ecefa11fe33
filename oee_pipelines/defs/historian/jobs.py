"""The historian job: `historian_points` over a partition range (the demo runs it for the demo days).

Ranged backfills of more than one day are launched from the asset graph, the CLI
(`dagster asset materialize --partition-range`) or the API, not from this job's page (Dagster #17665).
"""

import dagster as dg

from oee_pipelines.defs.executor import LIGHT_JOB_EXECUTOR
from oee_pipelines.services.source_systems import HISTORIAN, source_system_tags

HISTORIAN_BACKFILL_JOB = "historian_backfill_job"

historian_backfill_job = dg.define_asset_job(
    HISTORIAN_BACKFILL_JOB,
    selection=dg.AssetSelection.assets("historian_points"),
    tags=source_system_tags(HISTORIAN),
    description="Fetch every mapped PI / AVEVA tag for a range of UTC days into the lake.",
    # One step (it walks the range's days itself): a step process would add start-up, no parallelism.
    executor_def=LIGHT_JOB_EXECUTOR,
)
