"""`imported_files`: one run per inbox file lands it (all or nothing) and moves it to processed/ or
rejected/ with its report. The run names the file in its config; the inbox sensor launches it.

Imported sensor logs and downtime change days the OEE stage may already have built. Those days are
materializations of the daily-partitioned `imported_sensor_logs` and `imported_downtime` assets,
reported by the run for exactly the days the file touched, so downstream daily assets that depend on
them see which partitions changed (a file's days are only known once it is read, which is why the
run is not launched per partition).
"""

from typing import Any

import dagster as dg
from pydantic import Field

from oee_pipelines.defs.metadata import column_schema
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_partitions
from oee_pipelines.resources.imports import ImportInboxResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.imports import FileImporter, ImportOutcome

IMPORTED_FILES = "imported_files"
FILE_ACCEPTED_CHECK = "file_accepted"
# The daily asset each import type reports the days it changed for (schedules change no measured day).
# Machine-state logs and production counts land as telemetry beside the sensor logs.
IMPORTED_TELEMETRY, IMPORTED_DOWNTIME = "imported_sensor_logs", "imported_downtime"
DAILY_ASSET_BY_KIND = {
    "sensor_log": IMPORTED_TELEMETRY,
    "machine_state_log": IMPORTED_TELEMETRY,
    "production_count": IMPORTED_TELEMETRY,
    "downtime": IMPORTED_DOWNTIME,
}
PREVIEW_ERRORS = 20


class ImportFileConfig(dg.Config):
    path: str = Field(description="The file waiting in the import inbox.")
    import_type: str = Field(
        description="sensor_log, machine_state_log, production_count, downtime or schedule."
    )
    quarantine_invalid: bool = Field(
        default=False, description="Land the valid rows and keep the others in import_rejected_rows."
    )
    submitted_by: str = Field(default="inbox", description="Who dropped the file, for the audit row.")


@dg.asset(
    name=IMPORTED_FILES,
    group_name="imports",
    owners=owners_of("imports"),
    kinds={"parquet", "postgres"},
    metadata=column_schema("import_jobs"),
    pool="imports",
    check_specs=[dg.AssetCheckSpec(FILE_ACCEPTED_CHECK, asset=IMPORTED_FILES)],
    description="One materialization per imported inbox file: its import_jobs audit row, counts and errors.",
)
def imported_files(
    context: dg.AssetExecutionContext,
    config: ImportFileConfig,
    warehouse: WarehouseResource,
    lake: LakeResource,
    import_inbox: ImportInboxResource,
) -> dg.MaterializeResult:
    inbox = import_inbox.inbox()
    path = inbox.waiting_file(config.path)
    outcome = FileImporter(warehouse.url(), lake.lake()).import_file(
        path,
        config.import_type,
        org_id=import_inbox.org_id,
        submitted_by=config.submitted_by,
        quarantine_invalid=config.quarantine_invalid,
        dagster_run_id=context.run.run_id,
    )
    moved_to = inbox.finish(path, outcome)
    context.log.info(
        f"{outcome.file_name}: {outcome.status}, {outcome.rows_imported} rows; moved to {moved_to}"
    )
    _report_changed_days(context, outcome)
    return dg.MaterializeResult(
        metadata=_outcome_metadata(outcome, str(moved_to)),
        check_results=[
            dg.AssetCheckResult(
                check_name=FILE_ACCEPTED_CHECK,
                passed=outcome.status == "SUCCESS",
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"errors": outcome.total_errors},
            )
        ],
    )


def _report_changed_days(context: dg.AssetExecutionContext, outcome: ImportOutcome) -> None:
    daily_asset = DAILY_ASSET_BY_KIND.get(outcome.kind)
    if daily_asset is None:
        return
    for day in outcome.affected_days:
        context.log_event(
            dg.AssetMaterialization(
                asset_key=daily_asset,
                partition=day.isoformat(),
                metadata={"import_job_id": outcome.job_id, "file_name": outcome.file_name},
            )
        )


def _outcome_metadata(outcome: ImportOutcome, moved_to: str) -> dict[str, Any]:
    errors = outcome.errors[:PREVIEW_ERRORS]
    return {
        "import_job_id": outcome.job_id,
        "file_name": outcome.file_name,
        "import_type": outcome.kind,
        "status": outcome.status,
        "checksum": outcome.checksum,
        "rows_read": outcome.rows_read,
        "dagster/row_count": outcome.rows_imported,
        "rows_rejected": outcome.rows_rejected,
        "affected_days": [day.isoformat() for day in outcome.affected_days],
        "moved_to": dg.MetadataValue.path(moved_to),
        "errors": dg.MetadataValue.json(errors),
        "errors_total": outcome.total_errors,
        "bad_rows": outcome.total_bad_rows,
        "error_counts": dg.MetadataValue.json(outcome.error_counts),
        "duplicate_of_job": outcome.duplicate_of_job or 0,
    }


imported_sensor_logs = dg.AssetSpec(
    IMPORTED_TELEMETRY,
    partitions_def=daily_partitions,
    deps=[IMPORTED_FILES],
    group_name="imports",
    owners=owners_of("imports"),
    kinds={"parquet"},
    metadata=column_schema("telemetry"),
    description="Imported sensor readings, machine states and piece counts in the lake "
    "(telemetry/source=import), by UTC day. "
    "Materialized by `imported_files` runs for the days a file changed.",
)
imported_downtime = dg.AssetSpec(
    IMPORTED_DOWNTIME,
    partitions_def=daily_partitions,
    deps=[IMPORTED_FILES],
    group_name="imports",
    owners=owners_of("imports"),
    kinds={"postgres"},
    metadata=column_schema("oee_downtime_events"),
    description="Imported stops in oee_downtime_events (source_system import), by UTC day a stop touches. "
    "Materialized by `imported_files` runs for the days a file changed.",
)
