"""`oee api` (the FastAPI sidecar under uvicorn) and `oee api-key create|revoke|list`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

import psycopg

from oee_pipelines.api.auth import ApiKeyError, create_api_key, list_api_keys, revoke_api_key
from oee_pipelines.cli.errors import require_free_port
from oee_pipelines.settings import Settings
from oee_pipelines.storage.warehouse import resolve_database_url


def register(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser("api", help="serve the export API (FastAPI + uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(handler=run_api)

    keys = subparsers.add_parser("api-key", help="API keys: create (printed once), revoke, list")
    commands = keys.add_subparsers(dest="api_key_command", required=True)
    create = commands.add_parser("create", help="create a key; prints the key alone on stdout")
    create.add_argument("--org", required=True, help="organization id (the demo plant's is `demo`)")
    create.add_argument("--name", required=True, help="who or what uses the key, e.g. 'Power BI finance'")
    create.add_argument(
        "--scope",
        choices=("read", "admin"),
        default="admin",
        help="'read' keys cannot change the plant model",
    )
    create.set_defaults(handler=run_create)
    revoke = commands.add_parser("revoke", help="revoke a key by id or by its shown prefix")
    revoke.add_argument("key", metavar="KEY_ID_OR_PREFIX")
    revoke.set_defaults(handler=run_revoke)
    listing = commands.add_parser("list", help="list an organization's keys (prefixes only)")
    listing.add_argument("--org", required=True)
    listing.set_defaults(handler=run_list)


def run_api(args: argparse.Namespace) -> int:
    import uvicorn

    from oee_pipelines.api.app import create_app

    require_free_port(args.host, args.port, "--port")
    uvicorn.run(create_app(Settings.from_env()), host=args.host, port=args.port, log_level="info")
    return 0


def _connect() -> psycopg.Connection:
    return psycopg.connect(resolve_database_url(Settings.from_env()), autocommit=True)


def run_create(args: argparse.Namespace) -> int:
    with _connect() as conn:
        try:
            key_id, key = create_api_key(conn, args.org, args.name, args.scope)
        except ApiKeyError as exc:
            print(f"oee api-key create: {exc}", file=sys.stderr)
            return 1
    print(f"created API key {key_id} ({key[:12]}...) for {args.org}; it is shown only once", file=sys.stderr)
    print(key)
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    with _connect() as conn:
        try:
            key_id = revoke_api_key(conn, args.key)
        except ApiKeyError as exc:
            print(f"oee api-key revoke: {exc}", file=sys.stderr)
            return 1
    print(f"revoked API key {key_id}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with _connect() as conn:
        keys = list_api_keys(conn, args.org)
    print(f"{'id':>5}  {'prefix':<14}{'name':<28}{'created (UTC)':<22}{'last used':<22}revoked")
    for key in keys:
        print(
            f"{key.key_id:>5}  {key.key_prefix:<14}{key.name[:26]:<28}{_when(key.created_at):<22}"
            f"{_when(key.last_used_at):<22}{_when(key.revoked_at)}"
        )
    return 0


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
