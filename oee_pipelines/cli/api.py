"""`oee api` (the FastAPI sidecar under uvicorn) and `oee api-key create|revoke|list`."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

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
        help="'read' keys read (exports, BI); 'admin' keys may also run actions and change the plant model",
    )
    create.add_argument(
        "--expires-in-days",
        type=_positive_days,
        metavar="DAYS",
        help="the key stops working this many days from now (default: never; revoke it instead)",
    )
    create.set_defaults(handler=run_create)
    revoke = commands.add_parser("revoke", help="revoke a key by id or by its shown prefix")
    revoke.add_argument("key", metavar="KEY_ID_OR_PREFIX")
    revoke.set_defaults(handler=run_revoke)
    listing = commands.add_parser(
        "list", help="list an organization's keys: prefix, scope, last use, expiry, status (never the key)"
    )
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
            expires_at = (
                datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
            )
            key_id, key = create_api_key(conn, args.org, args.name, args.scope, expires_at)
        except ApiKeyError as exc:
            print(f"oee api-key create: {exc}", file=sys.stderr)
            return 1
    until = f", valid until {_when(expires_at)} UTC" if expires_at else ""
    print(
        f"created {args.scope} API key {key_id} ({key[:12]}...) for {args.org}{until}; it is shown only once",
        file=sys.stderr,
    )
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
    now = datetime.now(UTC)
    # Last use is recorded at most once a minute per key, so it may lag by up to a minute.
    print(
        f"{'id':>5}  {'prefix':<14}{'name':<28}{'scope':<7}{'created (UTC)':<21}{'last used (UTC)':<21}"
        f"{'expires (UTC)':<21}status"
    )
    for key in keys:
        status = key.status(now)
        if status == "revoked":
            status += f" {_when(key.revoked_at)}"
        print(
            f"{key.key_id:>5}  {key.key_prefix:<14}{key.name[:26]:<28}{key.scope:<7}"
            f"{_when(key.created_at):<21}{_when(key.last_used_at):<21}{_when(key.expires_at, 'never'):<21}"
            f"{status}"
        )
    return 0


def _when(moment: datetime | None, absent: str = "-") -> str:
    return absent if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def _positive_days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 36500:
        raise argparse.ArgumentTypeError(f"must be a whole number of days from 1 to 36500, got {text!r}")
    return int(text)
