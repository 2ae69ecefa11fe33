"""`oee up`: the Dagster UI with its daemon, and the API sidecar, on 127.0.0.1 until Ctrl-C.

Every process started here is stopped here, by its PID.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from oee_pipelines.cli.dagster_home import ensure_dagster_home
from oee_pipelines.settings import Settings
from oee_pipelines.storage.migrations import migrate
from oee_pipelines.storage.warehouse import resolve_database_url

HOST = "127.0.0.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("up", help="Dagster UI + daemon and the API sidecar on 127.0.0.1")
    parser.add_argument("--dagster-port", type=int, default=3000)
    parser.add_argument("--api-port", type=int, default=8000)
    parser.set_defaults(handler=run_up)


def service_commands(args: argparse.Namespace) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    return {
        "dagster": [
            str(bin_dir / "dagster"), "dev", "-h", HOST, "-p", str(args.dagster_port),
            "-m", "oee_pipelines.definitions",
        ],
        "api": [str(bin_dir / "oee"), "api", "--host", HOST, "--port", str(args.api_port)],
    }  # fmt: skip


def run_up(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    ensure_dagster_home(settings)
    migrate(resolve_database_url(settings))
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in service_commands(args).items():
            processes[name] = subprocess.Popen(command, env=os.environ.copy(), start_new_session=True)
            print(f"started {name} (pid {processes[name].pid}): {' '.join(command[1:])}")
        print(f"Dagster UI: http://{HOST}:{args.dagster_port}   API: http://{HOST}:{args.api_port}/docs")
        while all(p.poll() is None for p in processes.values()):
            time.sleep(1)
        exited = [name for name, p in processes.items() if p.poll() is not None]
        print(f"oee up: {', '.join(exited)} exited; stopping the rest", file=sys.stderr)
        return 1
    finally:
        stop_processes(processes)


def stop_processes(processes: dict[str, subprocess.Popen[bytes]], timeout_seconds: float = 15) -> None:
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
