"""Helpers for tests that run Dagster's own processes: start with a log file, wait (bounded), read logs."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path


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
