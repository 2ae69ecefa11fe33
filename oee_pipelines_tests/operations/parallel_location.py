"""A daily asset whose ranged run fans out one step per day: the multiprocess executor runs days in parallel.

This is how a single-run backfill of many days still uses every core (or, with the Kubernetes executor,
every pod): each day is its own step, and no step depends on state left by another.
"""

import json
import os
import time
from pathlib import Path

import dagster as dg

DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-02-01")
TIMINGS_DIR_VARIABLE = "OEE_TEST_TIMINGS_DIR"
# Long enough that steps started together are still running when the last one starts.
STEP_SECONDS = 3.0


class TimingsFolder(dg.ConfigurableResource):
    path: str

    def record(self, day: str, started: float, finished: float) -> None:
        record = {"day": day, "pid": os.getpid(), "started": started, "finished": finished}
        (Path(self.path) / f"{day}.json").write_text(json.dumps(record), encoding="utf-8")


@dg.op(out=dg.DynamicOut(str))
def days_in_range(context: dg.OpExecutionContext):
    for day in context.partition_keys:
        yield dg.DynamicOutput(day, mapping_key=day.replace("-", "_"))


@dg.op
def process_day(day: str, timings: TimingsFolder) -> str:
    started = time.time()
    time.sleep(STEP_SECONDS)  # stands in for one day's extract and load
    timings.record(day, started, time.time())
    return day


@dg.op
def report_days(context: dg.OpExecutionContext, days: list[str]) -> None:
    # Returning None: a single-run range has no one value for the IO manager to store per partition.
    context.add_output_metadata({"days": len(days)})


@dg.graph_asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def days_in_parallel() -> None:
    return report_days(days_in_range().map(process_day).collect())


parallel_days_job_def = dg.define_asset_job(
    "parallel_days",
    selection=[days_in_parallel],
    executor_def=dg.multiprocess_executor.configured({"max_concurrent": 4}),
)

defs = dg.Definitions(
    assets=[days_in_parallel],
    jobs=[parallel_days_job_def],
    resources={"timings": TimingsFolder(path=dg.EnvVar(TIMINGS_DIR_VARIABLE))},
)


def parallel_days_job() -> dg.JobDefinition:
    """The job, rebuilt by each step process (the multiprocess executor needs a reconstructable job)."""
    return defs.resolve_job_def("parallel_days")
