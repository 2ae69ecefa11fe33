"""The inbox sensor: one `import_file_job` run per new file, keyed on the file's sha256.

The run key is the content's checksum, so the same file dropped twice (under any name) starts one
run; Dagster skips the repeated key and the copy stays in the inbox, logged once. The JSON cursor
remembers, per file still in the inbox, the size and modification time already handled, so a file is
hashed once however many ticks it waits; files leave the cursor when their run moves them away.
A file whose type neither its folder nor its name gives is skipped with a warning.
"""

import json

import dagster as dg

from oee_pipelines.defs.imports.jobs import import_file_job, import_file_run_config
from oee_pipelines.domain.imports import IMPORT_KINDS
from oee_pipelines.resources.imports import ImportInboxResource
from oee_pipelines.services.imports import InboxFile, file_checksum

# A large drop is taken over several ticks, so one tick never hashes gigabytes.
MAX_FILES_PER_TICK = 50
CHECKSUM_TAG = "oee/import_checksum"
FILE_TAG = "oee/import_file"


def file_run_request(waiting: InboxFile, checksum: str) -> dg.RunRequest:
    assert waiting.kind is not None
    return dg.RunRequest(
        run_key=checksum,
        run_config=import_file_run_config(str(waiting.path), waiting.kind),
        tags={CHECKSUM_TAG: checksum, FILE_TAG: waiting.relative},
    )


@dg.sensor(
    name="import_inbox_sensor",
    job=import_file_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Imports each new file dropped into the import inbox (one run per file content).",
)
def import_inbox_sensor(
    context: dg.SensorEvaluationContext, import_inbox: ImportInboxResource
) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor)["files"] if context.cursor else {}
    still_waiting: dict[str, str] = {}
    run_requests: list[dg.RunRequest] = []
    for waiting in import_inbox.inbox().pending():
        if seen.get(waiting.relative) == waiting.signature:
            still_waiting[waiting.relative] = waiting.signature
            continue
        if len(run_requests) >= MAX_FILES_PER_TICK:
            continue
        still_waiting[waiting.relative] = waiting.signature
        if waiting.kind is None:
            context.log.warning(
                f"{waiting.relative}: import type unknown; put it in a folder named after its type "
                f"({', '.join(f'{kind}/' for kind in IMPORT_KINDS)}) or start its name with the type"
            )
            continue
        run_requests.append(file_run_request(waiting, file_checksum(waiting.path)))
    return dg.SensorResult(
        run_requests=run_requests, cursor=json.dumps({"files": still_waiting}, sort_keys=True)
    )
