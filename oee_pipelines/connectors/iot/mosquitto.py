"""A local mosquitto broker on 127.0.0.1 for tests, benchmarks and the demo, configured for zero loss.

The configuration mirrors `deploy/mosquitto.conf`: persistence on, and no cap on the queue of an
offline persistent session (mosquitto's default of 1000 queued messages silently drops QoS 1
messages beyond it). Stopping and starting again keeps the persistence file, like a broker restart.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"
ZERO_LOSS_SETTINGS = """persistence true
persistence_location {data_dir}/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
"""


class MosquittoBroker:
    """`with MosquittoBroker(folder, port) as broker:` runs mosquitto on a loopback port."""

    def __init__(self, folder: Path, port: int, executable: str = MOSQUITTO) -> None:
        self.folder = folder
        self.port = port
        self.executable = executable
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config_path = folder / "mosquitto.conf"
        self.config_path.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            # Started as root, mosquitto would switch to user `mosquitto`, who cannot write to `folder`.
            + f"user {pwd.getpwuid(os.getuid()).pw_name}\n"
            + ZERO_LOSS_SETTINGS.format(data_dir=folder)
            + f"log_dest file {folder / 'mosquitto.log'}\n"
        )

    def start(self, timeout_seconds: float = 10.0) -> MosquittoBroker:
        self.process = subprocess.Popen(
            [self.executable, "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_seconds
        while not _accepts_connections(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"mosquitto did not start on port {self.port}: see {self.folder}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """SIGTERM (mosquitto saves its persistence file on the way out) and wait."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
