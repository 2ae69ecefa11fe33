"""The API request sensor: one run per `api_run_requests` row (services/api_run_requests.py).

Each tick (every few seconds) reads the requests without a recorded run. A request whose run already
exists (found by its `oee/request_id` tag: a previous tick started it) gets that run id recorded; every
other one becomes a RunRequest whose run key is the request id, so Dagster never starts two runs for
one request however often a tick repeats. No id cursor: rows commit out of id order under concurrent
requests, and a cursor past an id not yet committed would skip that request for ever; the recorded
run id is the progress marker instead.
"""

import dagster as dg

from oee_pipelines.defs.erp.jobs import erp_materials_sync_job
from oee_pipelines.defs.mes.jobs import (
    mes_order_status_job,
    mes_recipe_download_job,
    mes_schedule_sync_job,
)
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.api_run_requests import REQUEST_TAG, ApiRunRequests, RunRequestRow

API_LAUNCHABLE_JOBS = [
    mes_schedule_sync_job,
    mes_recipe_download_job,
    mes_order_status_job,
    erp_materials_sync_job,
]
LAUNCHABLE_JOB_NAMES = {job.name for job in API_LAUNCHABLE_JOBS}


def request_run(request: RunRequestRow) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=request.request_id,
        job_name=request.job_name,
        run_config=request.run_config,
        tags={**request.tags, REQUEST_TAG: request.request_id},
    )


@dg.sensor(
    name="api_run_requests_sensor",
    jobs=API_LAUNCHABLE_JOBS,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts the run each API request (sync, recipe download, order push-back) asked for.",
)
def api_run_requests_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    requests = ApiRunRequests(warehouse.connect)
    pending = requests.pending()
    if not pending:
        return dg.SensorResult(skip_reason="no API run request waiting")
    started = context.instance.get_runs(
        filters=dg.RunsFilter(tags={REQUEST_TAG: [request.request_id for request in pending]})
    )
    run_ids = {run.tags[REQUEST_TAG]: run.run_id for run in started}
    requests.record_runs(run_ids)
    run_requests = []
    for request in pending:
        if request.request_id in run_ids:
            continue
        if request.job_name not in LAUNCHABLE_JOB_NAMES:
            context.log.error(f"API request {request.request_id}: no job {request.job_name!r} to launch")
            continue
        run_requests.append(request_run(request))
    return dg.SensorResult(run_requests=run_requests)
