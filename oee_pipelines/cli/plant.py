"""`oee plant validate|apply|export`: the plant model file (sites, lines, machines, shifts, products,
reason codes, sensor ranges, IoT sensors, historian tags, state sets). See docs/onboarding.md.

Exit status: 0 done; 1 the file is invalid (every error printed with its path in the file, nothing
changed); 2 the file or organization does not exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oee_pipelines.domain.plant_model import PlantModel, PlantModelError, parse_plant_model, to_tables
from oee_pipelines.services.plant import PlantModelService
from oee_pipelines.services.plant.templates import ReferenceImporter
from oee_pipelines.settings import Settings
from oee_pipelines.storage.warehouse import resolve_database_url


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plant", help="the plant model file: validate, apply, export")
    commands = parser.add_subparsers(dest="plant_command", required=True)
    validate = commands.add_parser("validate", help="check a plant model file (every error, with its path)")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=run_validate)
    apply = commands.add_parser("apply", help="apply a plant model file in one transaction")
    apply.add_argument("file", type=Path)
    apply.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    apply.set_defaults(handler=run_apply)
    export = commands.add_parser("export", help="write the current plant model (YAML) that `apply` accepts")
    export.add_argument("--org", help="organization id (default: OEE_ORG_ID, `demo`)")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    export.set_defaults(handler=run_export)


def _read(command: str, path: Path) -> PlantModel | int:
    if not path.is_file():
        print(f"oee plant {command}: no such file {path}", file=sys.stderr)
        return 2
    try:
        return parse_plant_model(path.read_bytes())
    except PlantModelError as exc:
        _print_errors(command, path, exc)
        return 1


def _print_errors(command: str, path: Path, error: PlantModelError) -> None:
    count = len(error.issues)
    print(
        f"oee plant {command}: {path}: {count} error{'s' if count != 1 else ''}, nothing changed",
        file=sys.stderr,
    )
    for issue in error.issues:
        print(f"  {issue}", file=sys.stderr)


def run_validate(args: argparse.Namespace) -> int:
    model = _read("validate", args.file)
    if isinstance(model, int):
        return model
    counts = {table: len(rows) for table, rows in to_tables(model).items() if rows}
    print(f"{args.file}: valid plant model of organization {model.organization.id!r}")
    for table, rows in counts.items():
        print(f"  {table:<24} {rows:>6}")
    return 0


def run_apply(args: argparse.Namespace) -> int:
    model = _read("apply", args.file)
    if isinstance(model, int):
        return model
    service = PlantModelService(resolve_database_url(Settings.from_env()))
    try:
        report = service.apply(model, dry_run=args.dry_run)
    except PlantModelError as exc:
        _print_errors("apply", args.file, exc)
        return 1
    verb = "would change" if args.dry_run else "changed"
    print(f"plant model of {report.org_id!r} from {args.file}: {report.changed} rows {verb}")
    for line in report.lines():
        print(f"  {line}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    org_id = args.org or settings.org_id
    service = PlantModelService(resolve_database_url(settings))
    try:
        model = service.export(org_id)
    except PlantModelError as exc:
        print(f"oee plant export: {exc}", file=sys.stderr)
        return 2
    text = f"# Plant model of organization {org_id!r}, exported by `oee plant export`.\n" + model.to_yaml()
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_reference_import(args: argparse.Namespace) -> int:
    """`oee import FILE --type machines|shifts|...`: a reference-data template, all or nothing."""
    settings = Settings.from_env()
    if not args.file.is_file():
        print(f"oee import: no such file {args.file}", file=sys.stderr)
        return 2
    importer = ReferenceImporter(resolve_database_url(settings))
    outcome = importer.import_file(args.file, args.import_type, org_id=args.org or settings.org_id)
    report = outcome.as_dict()
    print(
        f"{outcome.file_name} ({outcome.kind}) {outcome.status}: {report['rows_read']} rows read, "
        f"{report['rows_imported']} imported, {report['rows_rejected']} rejected"
    )
    for error in outcome.errors:
        where = f"row {error['row']}" if error["row"] is not None else "file"
        column = f" {error['column']}" if error["column"] else ""
        value = f" {error['value']!r}" if error["value"] is not None else ""
        print(f"  {where}{column}{value}: {error['reason']}")
    if outcome.report is not None:
        print(f"plant model of {outcome.report.org_id!r}: {outcome.report.changed} rows changed")
    return 0 if outcome.landed else 1
