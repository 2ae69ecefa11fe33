"""A real `dagster-webserver` subprocess on loopback for the API launch tests, stopped by its PID.

Its instance (a temp DAGSTER_HOME) uses the default run coordinator, so a launched run starts at once
in its own process without a daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml

from oee_pipelines.simulator.servers.runtime import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_ATTEMPTS = 240  # x 0.5 s: loading the definitions takes a while on a busy machine
RUN_POLLS = 400  # x 0.5 s
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
WORKSPACE_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries {
    loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
INSTANCE_YAML = """
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


def write_connector_config(path: Path, sections: Mapping[str, object]) -> Path:
    path.write_text(yaml.safe_dump(dict(sections), sort_keys=False))
    return path


@contextmanager
def dagster_webserver(
    home: Path, env: Mapping[str, str], instance_yaml: str = INSTANCE_YAML
) -> Iterator[str]:
    """Start the webserver on the project's definitions; yields its GraphQL URL."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(instance_yaml)
    port = free_port()
    webserver = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(webserver), "-m", "oee_pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_until_loaded(f"http://127.0.0.1:{port}/graphql", process)
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_until_loaded(graphql_url: str, process: subprocess.Popen) -> None:
    """Wait until the webserver answers and its code location has loaded (or failed to)."""
    for _ in range(STARTUP_ATTEMPTS):
        if process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {process.returncode}")
        entries = _location_entries(graphql_url)
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"].get("message")]
            if errors:
                raise RuntimeError(f"the code location failed to load: {errors[0]['message'][:2000]}")
            return
        time.sleep(0.5)
    raise RuntimeError(f"dagster-webserver did not load its code location at {graphql_url}")


def _location_entries(graphql_url: str) -> list[dict]:
    try:
        response = httpx.post(graphql_url, json={"query": WORKSPACE_QUERY}, timeout=5)
        workspace = response.json()["data"]["workspaceOrError"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return []
    return workspace.get("locationEntries") or []


def wait_for_run(read_status: object) -> str:
    """Poll `read_status()` until the run has finished; returns the final status."""
    status = ""
    for _ in range(RUN_POLLS):
        status = read_status()  # type: ignore[operator]
        if status in FINISHED:
            return status
        time.sleep(0.5)
    raise AssertionError(f"run still {status} after polling")
