"""The lake's disk fills up: every write fails with a clear error and the files already there stay intact.

The lake root is a 1 MiB tmpfs mounted for the scenario (`mount -t tmpfs -o size=1m`): the kernel's
own ENOSPC. Where mounting is not permitted (not root), the same 1 MiB is enforced at the file-write
layer instead: Parquet writes that would pass it write what fits and raise ENOSPC (the figures say
which of the two ran). Small files are written first; then a file replaced in
place, a whole partition folder replaced, and a new file are each written too large to fit. Afterwards
every earlier file must be byte-identical, no temporary file may remain, and a small write must work
again (the failed writes gave their space back).
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from oee_pipelines.storage.lake import Lake
from reliability.common import ScenarioResult

HOUR_FILE = "telemetry/source=mqtt/date=2025-01-13/hour=10.parquet"
HISTORIAN_FOLDER = "telemetry/source=pi/date=2025-01-13"
NEW_FILE = "telemetry/source=mqtt/date=2025-01-14/hour=00.parquet"


DISK_BYTES = 1 << 20


@contextmanager
def tiny_disk() -> Iterator[tuple[Path, str]]:
    """A 1 MiB lake root: (its path, how the limit is enforced)."""
    mount_point = Path(tempfile.mkdtemp(prefix="oee-reliability-lake-"))
    mount = ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)]
    try:
        if subprocess.run(mount, capture_output=True).returncode == 0:
            try:
                yield mount_point, "tmpfs, size=1m (kernel ENOSPC)"
            finally:
                # Lazy: the mount is detached at once even if a reader still holds a file open.
                subprocess.run(["umount", "--lazy", str(mount_point)], check=True)
        else:
            with simulated_full_disk(mount_point):
                yield mount_point, "1 MiB enforced at the Parquet write (mount not permitted)"
    finally:
        shutil.rmtree(mount_point, ignore_errors=True)


@contextmanager
def simulated_full_disk(root: Path) -> Iterator[None]:
    """Parquet writes under `root` beyond DISK_BYTES write what fits, then fail as a full disk does."""
    real_write_table = pq.write_table

    def write_table(table: pa.Table, where: object, **options: object) -> None:
        if not str(where).startswith(str(root)):
            real_write_table(table, where, **options)
            return
        sink = pa.BufferOutputStream()
        real_write_table(table, sink, **options)
        data = sink.getvalue().to_pybytes()
        free = DISK_BYTES - sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
        Path(str(where)).write_bytes(data[: max(free, 0)])
        if len(data) > free:
            raise OSError(errno.ENOSPC, "No space left on device", str(where))

    with patch.object(pq, "write_table", write_table):
        yield


def readings(rows: int, seed: int) -> pa.Table:
    """Random doubles: Parquet cannot compress them, so `rows` sets the file size (~8 bytes a row)."""
    generator = np.random.default_rng(seed)
    return pa.table({"ts": np.arange(rows, dtype=np.int64), "value": generator.random(rows)})


def fingerprints(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def attempt(write: Callable[[], object], label: str, errors: dict[str, str]) -> None:
    try:
        write()
    except OSError as error:
        errors[label] = f"{type(error).__name__} errno {error.errno}: {error}"[:160]
        if error.errno != errno.ENOSPC:
            raise
    else:
        errors[label] = "no error (the write fitted)"


def run(short: bool) -> ScenarioResult:
    result = ScenarioResult("Lake disk full")
    with tiny_disk() as (root, disk):
        lake = Lake(str(root))
        lake.write_file(HOUR_FILE, readings(2_000, seed=1))
        lake.replace_folder(
            HISTORIAN_FOLDER, {"part-0.parquet": readings(2_000, 2), "part-1.parquet": readings(2_000, 3)}
        )
        before = fingerprints(root)
        too_big = readings(200_000, seed=4)  # ~1.6 MB of incompressible doubles on a 1 MiB disk
        errors: dict[str, str] = {}
        attempt(lambda: lake.write_file(HOUR_FILE, too_big), "replace a file", errors)
        attempt(
            lambda: lake.replace_folder(HISTORIAN_FOLDER, {"part-0.parquet": too_big}),
            "replace a folder",
            errors,
        )
        attempt(lambda: lake.write_file(NEW_FILE, too_big), "write a new file", errors)
        after = fingerprints(root)
        leftovers = sorted(set(after) - set(before))
        lake.write_file(NEW_FILE, readings(100, seed=5))
        recovered = lake.read_folder("telemetry/source=mqtt/date=2025-01-14").num_rows
    changed = sorted(name for name, digest in before.items() if after.get(name) != digest)
    result.figures = {
        "disk": disk,
        "files before": len(before),
        **{f"error ({label})": message for label, message in errors.items()},
        "earlier files changed or missing": len(changed),
        "temporary files left": len(leftovers),
        "small write afterwards": f"{recovered} rows read back",
    }
    result.lost += [f"changed or missing: {name}" for name in changed]
    result.lost += [f"left behind: {name}" for name in leftovers]
    result.lost += [f"{label}: no ENOSPC" for label, message in errors.items() if "errno 28" not in message]
    if recovered != 100:
        result.lost.append("the lake did not accept a write after the disk-full errors")
    return result
