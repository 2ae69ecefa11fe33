"""Helpers for tests that run Dagster's own processes: start with a log file, wait (bounded), read logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

OEE = str(Path(sys.executable).parent / "oee")


def start_logged(command: list[str], env: Mapping[str, str], log_file: Path) -> subprocess.Popen[bytes]:
    """Start `command` in its own process group (so it can be stopped with its children), output to a file."""
    with log_file.open("wb") as log:
        return subprocess.Popen(
            command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_until(
    condition: Callable[[], bool], timeout_seconds: float, what: str, log_files: list[Path]
) -> None:
    """Poll `condition` until true; fail with the processes' log tails after `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout_seconds} s\n" + log_tails(log_files))


def log_tails(log_files: list[Path], lines: int = 40) -> str:
    return "\n".join(
        f"--- {path.name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        for path in log_files
        if path.exists()
    )


def venv_command(name: str) -> str:
    """A console script installed beside the running Python (dagster-daemon, dagster-webserver)."""
    return str(Path(sys.executable).parent / name)


@contextmanager
def running_oee(
    *arguments: str, env: Mapping[str, str], stop_seconds: float = 60.0
) -> Iterator[subprocess.Popen[bytes]]:
    """An `oee` command as its own process, stopped with SIGTERM (by PID) at the end of the block."""
    process = subprocess.Popen(
        [OEE, *arguments], env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=stop_seconds)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
