"""The simulated plant's fixed ports (8701-8706, the addresses the seed's configuration files name)
can serve one test at a time on this machine.

`make test` runs two pytest-xdist workers, and other test sessions may run beside it, so a test that
serves the plant on those ports holds a machine-wide file lock while it runs (the
`simulated_plant_ports` fixture). A lock rather than an xdist group: pytest-xdist 3.8's groups do
not hold under pytest 9, and a lock also keeps two sessions apart.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

PORTS_LOCK_FILE = Path(tempfile.gettempdir()) / "oee-simulated-plant-ports.lock"
# Longer than the slowest holder (two demo runs) so a waiting test fails only on a real hang.
LOCK_TIMEOUT_SECONDS = 2400


@contextmanager
def hold_simulated_plant_ports() -> Iterator[None]:
    with FileLock(PORTS_LOCK_FILE, timeout=LOCK_TIMEOUT_SECONDS):
        yield
