"""`oee up`: the Dagster UI with its daemon, and the API sidecar, on 127.0.0.1 until Ctrl-C.

Every process started here is stopped here, by its PID.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import dagster as dg

from oee_pipelines.cli.dagster_home import apply_pool_limits, ensure_dagster_home
from oee_pipelines.cli.errors import require_free_port
from oee_pipelines.cli.iot import iot_services
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.serve import SimulatedSources
from oee_pipelines.storage.migrations import migrate
from oee_pipelines.storage.warehouse import resolve_database_url

HOST = "127.0.0.1"
# Shipped in the package (a symlink to the repository's workspace.yaml): loads the installed module.
WORKSPACE_YAML = Path(str(files("oee_pipelines.cli") / "workspace.yaml"))
# A PYTHONWARNINGS filter (action:message-start) for `dagster dev`'s own SupersessionWarning.
DAGSTER_DEV_NOTE = "ignore:Function `dev_command` is superseded"
# With no plant systems configured, the simulated plant serves orders around today.
SIMULATED_PAST, SIMULATED_FUTURE = timedelta(days=90), timedelta(days=14)


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
            "-w", str(WORKSPACE_YAML),
        ],
        "api": [str(bin_dir / "oee"), "api", "--host", HOST, "--port", str(args.api_port)],
    }  # fmt: skip


def run_up(args: argparse.Namespace) -> int:
    # `kill <pid>` (SIGTERM) stops everything started here, as Ctrl-C does, instead of orphaning it.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # A shell starting `oee up &` from a script ignores SIGINT, and children inherit an ignored
    # signal: `dagster dev` would then ignore our SIGTERM too (it maps SIGTERM to its SIGINT handler)
    # and be killed 15 s later without shutting down. A handler, unlike SIG_IGN, is not inherited.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    require_free_port(HOST, args.dagster_port, "--dagster-port")
    require_free_port(HOST, args.api_port, "--api-port")
    # The API launches MES / ERP / historian runs on this Dagster, whatever its port.
    os.environ.setdefault("OEE_DAGSTER_GRAPHQL_URL", f"http://{HOST}:{args.dagster_port}/graphql")
    # `dagster dev` warns that `dg dev` supersedes it (SupersessionWarning, on every start): a note
    # for Dagster's developers, not for the person running `oee up`. Only that message is ignored.
    inherited = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{inherited},{DAGSTER_DEV_NOTE}" if inherited else DAGSTER_DEV_NOTE
    settings = Settings.from_env()
    warehouse_url = resolve_database_url(settings)
    ensure_dagster_home(settings, warehouse_url)
    with dg.DagsterInstance.get() as instance:
        apply_pool_limits(instance)
    migrate(warehouse_url)
    with ExitStack() as stack:
        if not settings.sources.origin:  # neither OEE_CONFIG_FILE nor OEE_CONFIG_DIR is set
            os.environ["OEE_CONFIG_FILE"] = str(_start_simulated_sources(settings, stack))
        # The ingester (and, with no broker configured, a local mosquitto stopped after every process).
        iot_commands = stack.enter_context(iot_services(Settings.from_env()))
        return _supervise(args, iot_commands)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start_simulated_sources(settings: Settings, stack: ExitStack) -> Path:
    """Serve the simulated plant's MES, ERP and historians on loopback; return the connector YAML."""
    plant = SimulatedPlant(load_plant_description(settings.plant_file), seed=settings.simulator_seed)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    sources = stack.enter_context(SimulatedSources(plant, today - SIMULATED_PAST, today + SIMULATED_FUTURE))
    print(f"simulated source systems: {', '.join(sources.base_urls().values())}")
    return sources.write_connector_config(settings.data_dir / "simulated_sources.yml")


def _supervise(args: argparse.Namespace, extra_commands: dict[str, list[str]]) -> int:
    """Start every service, wait until one exits (or Ctrl-C), then stop them all by PID."""
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in {**service_commands(args), **extra_commands}.items():
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
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout_seconds
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # A group already gone must not stop the loop from reaching the other processes.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
