"""The `oee` command: every task a user runs by hand. One module per command group."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from oee_pipelines.cli import api, bi, db, demo, imports, iot, up
from oee_pipelines.settings import ConfigError

COMMAND_GROUPS = [db, demo, up, api, bi, iot, imports]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oee", description="OEE data platform: warehouse, pipelines, API.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ConfigError as exc:
        print(f"oee: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
