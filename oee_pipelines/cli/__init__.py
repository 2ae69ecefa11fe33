"""The `oee` command: every task a user runs by hand. One module per command group."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version

from oee_pipelines.cli import api, bi, db, demo, imports, iot, plant, up
from oee_pipelines.cli.errors import EXIT_INTERRUPTED, debug_requested, report

COMMAND_GROUPS = [db, demo, up, api, bi, iot, imports, plant]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oee",
        description="OEE data platform: warehouse, pipelines, API.",
        epilog="Exit codes: docs/cli.md. 0 done, 1 failed, 2 fix the command or a setting, "
        "3 a service did not answer, 4 port in use, 70 a bug, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"oee {version('oee_pipelines')}")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error (also: OEE_DEBUG=1)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line and a documented exit code, never a bare traceback
        return report(exc, debug=debug_requested(args.debug))


if __name__ == "__main__":
    sys.exit(main())
