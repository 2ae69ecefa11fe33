"""The `oee` command: every task a user runs by hand. One module per command group."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import version
from types import ModuleType

from oee_pipelines.cli.errors import EXIT_INTERRUPTED, debug_requested, report

# One module per command group, imported when its group is parsed: `oee iot ingest` (a process the demo
# starts and waits for) imports what ingesting needs, not Dagster, the API and the BI writers (3 s).
COMMAND_GROUP_NAMES = ("db", "demo", "up", "api", "bi", "iot", "imports", "plant")
# Each command and the module that registers it (`api` also registers `api-key`).
COMMAND_MODULES = {name: name for name in COMMAND_GROUP_NAMES if name != "imports"} | {
    "api-key": "api",
    "import": "imports",
}


def command_group(name: str) -> ModuleType:
    return importlib.import_module(f"oee_pipelines.cli.{name}")


def named_group(argv: Sequence[str]) -> str | None:
    """The module of the command an argument list starts with (`iot ingest ...` -> `iot`, `import
    FILE` -> `imports`), else None (an option first, no command, an unknown one: the whole parser)."""
    return COMMAND_MODULES.get(argv[0]) if argv else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `oee` parser with every command group, or with the group `only` alone."""
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
    for name in COMMAND_GROUP_NAMES:
        if only is None or name == only:
            command_group(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(named_group(arguments))
    args = parser.parse_args(arguments)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line and a documented exit code, never a bare traceback
        return report(exc, debug=debug_requested(args.debug))


if __name__ == "__main__":
    sys.exit(main())
