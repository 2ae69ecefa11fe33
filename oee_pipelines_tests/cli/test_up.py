"""`oee up`: every service answers on loopback, and `kill <pid>` stops them all, Dagster cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import psutil
import pytest

from oee_pipelines.cli.dagster_home import DAGSTER_STORAGE_VARIABLE, ensure_dagster_database
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.processes import log_tails, venv_command, wait_until

# `oee up` serves the simulated plant on its fixed ports; the wait for them counts in the timeout.
pytestmark = [pytest.mark.usefixtures("simulated_plant_ports"), pytest.mark.timeout(2700)]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_sigterm_stops_every_service_even_when_started_with_sigint_ignored(
    database_url: str, scratch_database_name: str, tmp_path: Path
) -> None:
    dagster_port, api_port = free_port(), free_port()
    config = tmp_path / "connectors.yml"
    config.write_text("{}\n")  # no plant systems, no simulator: the local broker and sensors only
    env = {
        **os.environ,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "OEE_DATABASE_URL": database_url,
        "OEE_CONFIG_FILE": str(config),
        DAGSTER_STORAGE_VARIABLE: ensure_dagster_database(database_url, scratch_database_name),
    }
    env.pop("DAGSTER_HOME", None)
    log = tmp_path / "up.log"
    with log.open("wb") as output:
        # As `oee up &` in a shell script starts it: SIGINT ignored, inherited by its children.
        up = subprocess.Popen(
            [venv_command("oee"), "up", "--dagster-port", str(dagster_port), "--api-port", str(api_port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_ignore_sigint,
        )
    children: list[psutil.Process] = []
    try:
        wait_until(
            lambda: (
                _answers(f"http://127.0.0.1:{dagster_port}/server_info")
                and _answers(f"http://127.0.0.1:{api_port}/health")
            ),
            240,
            "Dagster and the API answering",
            [log],
        )
        children = psutil.Process(up.pid).children(recursive=True)
        names = " ".join(" ".join(child.cmdline()) for child in children)
        for service in ("dagster_webserver", "dagster._daemon", "mosquitto", "iot ingest", "oee api"):
            assert service in names, f"{service} is not running under oee up"

        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"left running: {[p.pid for p in alive]}\n{log_tails([log])}"
        output_text = log.read_text(errors="replace")
        assert "Dagster services shut down." in output_text, log_tails([log])
        assert "did not terminate cleanly" not in output_text
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(timeout=10)
        for child in children:
            if child.is_running():
                child.kill()
