"""Code location for the instance test: a daily asset backfilled as one run, leaving a marker file per day."""

from pathlib import Path

import dagster as dg

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-02-01")
MARKER_DIR_VARIABLE = "OEE_TEST_MARKER_DIR"


class MarkerFolder(dg.ConfigurableResource):
    path: str

    def mark(self, day: str, run_id: str) -> None:
        (Path(self.path) / f"{day}.done").write_text(run_id, encoding="utf-8")


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_marker(context: dg.AssetExecutionContext, markers: MarkerFolder) -> dg.MaterializeResult:
    for day in context.partition_keys:
        markers.mark(day, context.run.run_id)
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


defs = dg.Definitions(
    assets=[daily_marker],
    resources={"markers": MarkerFolder(path=dg.EnvVar(MARKER_DIR_VARIABLE))},
)
