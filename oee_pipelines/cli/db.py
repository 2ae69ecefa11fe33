"""`oee db ...`: the warehouse: migrate, start/stop the embedded server, print its URL."""

from __future__ import annotations

import argparse
import sys

from oee_pipelines.cli.dagster_home import ensure_dagster_database
from oee_pipelines.settings import Settings
from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres
from oee_pipelines.storage.migrations import NoMigrationsError, migrate
from oee_pipelines.storage.warehouse import resolve_database_url


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("db", help="warehouse: migrate, start, stop, url")
    commands = parser.add_subparsers(dest="db_command", required=True)
    commands.add_parser("migrate", help="apply sql/ migrations (safe to re-run)").set_defaults(
        handler=run_migrate
    )
    commands.add_parser(
        "start", help="start the embedded PostgreSQL (when OEE_DATABASE_URL is unset)"
    ).set_defaults(handler=run_start)
    commands.add_parser("stop", help="stop the embedded PostgreSQL").set_defaults(handler=run_stop)
    url = commands.add_parser("url", help="print the warehouse URL")
    url.add_argument(
        "--dagster",
        action="store_true",
        help="print the URL of Dagster's storage instead, creating its database if missing "
        "(for OEE_DAGSTER_STORAGE_URL)",
    )
    url.set_defaults(handler=run_url)


def run_migrate(args: argparse.Namespace) -> int:
    url = resolve_database_url(Settings.from_env())
    try:
        result = migrate(url)
    except NoMigrationsError as exc:
        print(f"oee db migrate: {exc}", file=sys.stderr)
        return 1
    for name in result.applied:
        print(f"applied    {name}")
    for name in result.reapplied:
        print(f"re-applied {name} (changed since last run)")
    if not result.applied and not result.reapplied:
        print(f"up to date ({len(result.skipped)} migrations)")
    return 0


def run_start(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.database_url:
        print("OEE_DATABASE_URL is set: nothing to start")
        return 0
    EmbeddedPostgres(settings.embedded_pgdata).start()
    print(f"embedded PostgreSQL running in {settings.embedded_pgdata}")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    stopped = EmbeddedPostgres(settings.embedded_pgdata).stop()
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def run_url(args: argparse.Namespace) -> int:
    warehouse_url = resolve_database_url(Settings.from_env())
    print(ensure_dagster_database(warehouse_url) if args.dagster else warehouse_url)
    return 0
