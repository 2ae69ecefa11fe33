"""Long-running IoT processes (ingester, poller, simulated sensors) stop cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import signal
import threading


def stop_on_termination() -> threading.Event:
    """An event set by SIGTERM or SIGINT (call from the main thread), so the process can finish its batch."""
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    return stop
