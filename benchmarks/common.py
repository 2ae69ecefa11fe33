"""Helpers shared by benchmarks: a throwaway embedded PostgreSQL, timing, peak memory."""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres
from oee_pipelines.storage.migrations import migrate


@contextmanager
def scratch_warehouse() -> Iterator[str]:
    """A migrated embedded PostgreSQL in a temp folder, stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="oee-bench-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pgdata")
        url = server.start()
        try:
            migrate(url)
            yield url
        finally:
            server.stop()


def median_seconds(
    action: Callable[[], object], repeats: int, before: Callable[[], object] | None = None
) -> float:
    """Median wall time of `action` over `repeats` runs; `before` runs untimed before each."""
    timings = []
    for _ in range(repeats):
        if before:
            before()
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB.

    Linux's `ru_maxrss` survives fork and exec: a benchmark's fresh child process would report the
    parent's peak (4.9 GB for the historian's client after the enrichment bench in one `make bench`).
    `VmHWM` belongs to the process's own memory map, which exec replaces.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
