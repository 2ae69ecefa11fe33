"""The API sidecar as its own process (`oee api`) on a loopback port, over a scratch warehouse."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from oee_pipelines.simulator.servers.runtime import free_port
from reliability.common import scratch_folder, wait_for


@dataclass
class ApiProcess:
    base_url: str
    process: subprocess.Popen[bytes]

    def rss_bytes(self) -> int:
        return psutil.Process(self.process.pid).memory_info().rss

    def metrics(self) -> str:
        return httpx.get(f"{self.base_url}/metrics", timeout=30).text


def raise_open_files_limit() -> int:
    """Soft limit on open files raised to the hard one (thousands of sockets); returns it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running_api(database_url: str, extra_env: dict[str, str] | None = None) -> Iterator[ApiProcess]:
    """`oee api` on 127.0.0.1 with `database_url` as its warehouse, stopped (SIGTERM) afterwards."""
    raise_open_files_limit()  # inherited by the child
    with scratch_folder("api") as data_dir, (data_dir / "api.log").open("wb") as log:
        port = free_port()
        env = {
            **os.environ,
            "OEE_DATABASE_URL": database_url,
            "OEE_DATA_DIR": str(data_dir),
            **(extra_env or {}),
        }
        oee = Path(sys.executable).parent / "oee"
        command = [str(oee), "api", "--host", "127.0.0.1", "--port", str(port)]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        api = ApiProcess(f"http://127.0.0.1:{port}", process)
        try:
            wait_for(
                lambda: process.poll() is None and _healthy(api.base_url), 60, "the API answering /health"
            )
            yield api
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
