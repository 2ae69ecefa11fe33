"""How an `oee` command ends: its exit code, and one line on stderr naming what to fix.

The table of exit codes is in `docs/cli.md`. An expected failure (a setting, a missing file, a port
in use, a service that does not answer) prints one line; anything else is a bug and prints one line
too, with a hint: `oee --debug ...` (or `OEE_DEBUG=1`) shows the traceback.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import traceback

import psycopg

from oee_pipelines.settings import ConfigError
from oee_pipelines.storage.warehouse import connection_failure

EXIT_OK = 0
EXIT_FAILED = 1  # the command ran and its work failed: a file refused, a run failed, a key not found
EXIT_USAGE = 2  # fix the command line, a setting or a file: what argparse and ConfigError report
EXIT_UNREACHABLE = 3  # a service the command needs does not answer (broker, Dagster, warehouse lost)
EXIT_PORT_IN_USE = 4  # a port the command would listen on is taken
EXIT_INTERNAL = 70  # a bug (BSD sysexits' EX_SOFTWARE): please report it with the --debug traceback
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM (128 + SIGINT)

DEBUG_ENV = "OEE_DEBUG"


class CommandError(Exception):
    """An expected failure a command reports as one line and an exit code (see the table above)."""

    exit_code = EXIT_FAILED


class UnreachableError(CommandError):
    """Raise with the service and its address: `MQTT broker 10.0.0.5:1883: Connection refused`."""

    exit_code = EXIT_UNREACHABLE


class PortInUseError(CommandError):
    exit_code = EXIT_PORT_IN_USE


def debug_requested(flag: bool = False) -> bool:
    return flag or os.environ.get(DEBUG_ENV, "").strip().lower() not in {"", "0", "false", "no"}


def require_free_port(host: str, port: int, option: str) -> None:
    """PortInUseError naming `option` when nothing could listen on host:port (checked as uvicorn binds)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortInUseError(
                f"port {port} on {host} is in use: stop what listens there or pass {option} <another port>"
            ) from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def describe(exc: Exception) -> tuple[int, str] | None:
    """(exit code, one line) for an expected failure; None for a bug."""
    if isinstance(exc, CommandError):
        return exc.exit_code, str(exc)
    if isinstance(exc, ConfigError):
        return EXIT_USAGE, f"configuration error: {exc}"
    if isinstance(exc, psycopg.OperationalError):
        return EXIT_UNREACHABLE, f"the warehouse did not answer: {connection_failure(exc)}"
    if isinstance(exc, OSError) and exc.filename is not None:  # a path given or configured
        return EXIT_USAGE, f"{exc.filename}: {exc.strerror or _first_line(exc)}"
    if isinstance(exc, FileNotFoundError):  # pyarrow's, without a filename attribute
        return EXIT_USAGE, _first_line(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return EXIT_PORT_IN_USE, f"a port is in use: {exc.strerror or _first_line(exc)}"
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else _first_line(exc)
        return EXIT_UNREACHABLE, f"could not reach a service: {reason} (check the host and port it uses)"
    return None


def report(exc: Exception, *, debug: bool) -> int:
    """Print the one line (and the traceback when debugging); the exit code."""
    described = describe(exc)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    if described is not None:
        code, line = described
        print(f"oee: {line}", file=sys.stderr)
        return code
    hint = "" if debug else f" (run `oee --debug ...` or set {DEBUG_ENV}=1 for the traceback)"
    print(f"oee: unexpected error: {type(exc).__name__}: {_first_line(exc)}{hint}", file=sys.stderr)
    return EXIT_INTERNAL
