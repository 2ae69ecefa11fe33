"""`oee import FILE --type sensor_log|machine_state_log|production_count|downtime|schedule`: land one
file through the same path as the inbox and the API, and the demo step that imports sample files
through the inbox.

Exit status: 0 when the file landed (SUCCESS or PARTIAL), 1 when nothing was imported.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import dagster as dg

from oee_pipelines.cli.dagster_home import bound_resource
from oee_pipelines.cli.plant import run_reference_import
from oee_pipelines.cli.progress import ProgressDisplay
from oee_pipelines.cli.run_progress import execute_with_progress
from oee_pipelines.connectors.files import safe_file_name
from oee_pipelines.domain.imports import IMPORT_KINDS
from oee_pipelines.services.imports import FileImporter, ImportOutcome, ImportSetupError
from oee_pipelines.services.plant.templates import TEMPLATE_KIND_NAMES
from oee_pipelines.settings import Settings
from oee_pipelines.storage.lake import Lake
from oee_pipelines.storage.warehouse import resolve_database_url

# The demo plant's machine, line and an unplanned reason code (see the shipped templates).
DEMO_MACHINE, DEMO_REASON = "MACHINE-001", "BRK-MECH"
DEMO_LOG_LEVEL = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# The Dagster names the demo step runs (defined in `defs/imports/`, looked up by name).
INBOX_SENSOR, IMPORT_FILE_JOB, IMPORTED_FILES = "import_inbox_sensor", "import_file_job", "imported_files"
INBOX_RESOURCE = "import_inbox"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import a sensor log, machine-state log, production count, downtime or schedule file (CSV/XLSX)",
    )
    parser.add_argument("file", type=Path, help="the .csv/.txt/.tsv or .xlsx/.xlsm file")
    # Reference-data templates (machines, shifts, ...) go to the plant model service (`cli/plant.py`).
    parser.add_argument(
        "--type", required=True, choices=(*IMPORT_KINDS, *TEMPLATE_KIND_NAMES), dest="import_type"
    )
    parser.add_argument(
        "--quarantine-invalid",
        action="store_true",
        help="land the valid rows and keep the others in import_rejected_rows (default: all or nothing)",
    )
    parser.add_argument(
        "--encoding",
        help="the CSV file's text encoding, e.g. cp1250 (default: detected; a file that could be read "
        "several ways is refused naming them)",
    )
    parser.add_argument("--org", help="organization id (default: OEE_ORG_ID, `demo`)")
    parser.add_argument("--submitted-by", help="who imports, for the audit row (default: cli:<user>)")
    parser.set_defaults(handler=run_import)


def run_import(args: argparse.Namespace) -> int:
    if args.import_type in TEMPLATE_KIND_NAMES:
        return run_reference_import(args)
    settings = Settings.from_env()
    if not args.file.is_file():
        print(f"oee import: no such file {args.file}", file=sys.stderr)
        return 2
    try:
        # A large file reports its rows read so far (on stderr: stdout is the outcome).
        with ProgressDisplay(sys.stderr) as display:
            importer = FileImporter(
                resolve_database_url(settings), Lake(settings.lake_root), progress=display.update
            )
            outcome = importer.import_file(
                args.file,
                args.import_type,
                org_id=args.org or settings.org_id,
                submitted_by=args.submitted_by or f"cli:{getpass.getuser()}",
                quarantine_invalid=args.quarantine_invalid,
                encoding=args.encoding,
            )
    except (ImportSetupError, ValueError) as exc:
        print(f"oee import: {exc}", file=sys.stderr)
        return 2
    print_outcome(outcome)
    return 0 if outcome.landed else 1


def print_outcome(outcome: ImportOutcome) -> None:
    print(
        f"import job {outcome.job_id}: {outcome.file_name} ({outcome.kind}) {outcome.status}: "
        f"{outcome.rows_read} rows read, {outcome.rows_imported} imported, {outcome.rows_rejected} rejected"
    )
    for error in outcome.errors:
        where = f"row {error['row']}" if error["row"] is not None else "file"
        column = f" {error['column']}" if error["column"] else ""
        value = f" {error['value']!r}" if error["value"] is not None else ""
        print(f"  {where}{column}{value}: {error['reason']}")
    if outcome.truncated:
        print(
            f"  ... the first {len(outcome.errors)} of {outcome.total_errors} errors "
            f"({outcome.total_bad_rows} bad rows) are listed; every one, by kind:"
        )
        for kind, count in outcome.error_counts.items():
            print(f"  {count:>9}  {kind}")


# --- the demo step ---------------------------------------------------------------------------------


def demo_sample_files(day: date) -> dict[str, str]:
    """A sensor log (a temperature every 15 minutes) and two stops of the demo plant, on `day`."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    readings = [
        f"{(start + timedelta(minutes=15 * i)).isoformat().replace('+00:00', 'Z')},{DEMO_MACHINE},"
        f"temperature,{70 + (i % 8) * 0.5:.1f},degC,100"
        for i in range(96)
    ]
    stops = [
        (start + timedelta(hours=9, minutes=10), start + timedelta(hours=9, minutes=40), "Belt torn"),
        (start + timedelta(hours=13), start + timedelta(hours=13, minutes=25), "Sensor fault"),
    ]
    stop_rows = [
        f"{begin.isoformat()},{end.isoformat()},{DEMO_MACHINE},,{DEMO_REASON},{text},"
        for begin, end, text in stops
    ]
    sensor_header = "timestamp,machine_id,sensor_type,value,unit,quality"
    downtime_header = "start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id"
    return {
        f"sensor_log_demo_{day.isoformat()}.csv": "\n".join([sensor_header, *readings]) + "\n",
        f"downtime_demo_{day.isoformat()}.csv": "\n".join([downtime_header, *stop_rows]) + "\n",
    }


def run_import_demo(
    definitions: dg.Definitions, instance: dg.DagsterInstance, first: date, last: date
) -> None:
    """Drop the sample files into the inbox, tick the inbox sensor, and run the import it requests.

    The sensor, the job and the inbox resource are the ones `definitions` binds (by name: the CLI
    never imports `defs/`); the demo sets `OEE_IMPORT_INBOX` before the definitions are loaded.
    """
    settings = Settings.from_env()
    inbox = settings.import_inbox
    inbox.mkdir(parents=True, exist_ok=True)
    for name, text in demo_sample_files(first).items():
        (inbox / safe_file_name(name)).write_text(text, encoding="utf-8")
    sensor = definitions.resolve_sensor_def(INBOX_SENSOR)
    resources = {INBOX_RESOURCE: bound_resource(definitions, INBOX_RESOURCE)}
    tick = sensor(dg.build_sensor_context(instance=instance, resources=resources))
    if not isinstance(tick, dg.SensorResult):
        raise TypeError(f"{INBOX_SENSOR} returned {type(tick).__name__}, not a SensorResult")
    job = definitions.resolve_job_def(IMPORT_FILE_JOB)
    for request in tick.run_requests or ():
        run_config = {**request.run_config, **DEMO_LOG_LEVEL}
        result = execute_with_progress(job, instance, run_config=run_config, tags=request.tags)
        if not result.success:
            raise SystemExit(f"oee demo: {IMPORT_FILE_JOB} failed (run {result.run_id}); see the Dagster UI")
        [materialization] = [
            m
            for m in result.asset_materializations_for_node(IMPORTED_FILES)
            if m.asset_key.path == [IMPORTED_FILES]
        ]
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        earlier = metadata["duplicate_of_job"]
        status = f"already imported by import job {earlier}" if earlier else metadata["status"]
        print(
            f"ran {IMPORT_FILE_JOB:<32} {request.tags['oee/import_file']}: {status}, "
            f"{metadata['dagster/row_count']} rows  (run {result.run_id[:8]})"
        )
