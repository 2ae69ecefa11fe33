"""What every scenario shares: its result, a scratch PostgreSQL it may restart, bounded waiting."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres

# In-process Dagster runs log every event to the console; the scenarios print what matters.
QUIET_LOGGERS = {"console": {"config": {"log_level": "CRITICAL"}}}


@dataclass
class ScenarioResult:
    name: str
    figures: dict[str, object] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)  # empty: nothing lost

    @property
    def passed(self) -> bool:
        return not self.lost

    def report(self) -> str:
        width = max((len(key) for key in self.figures), default=0)
        lines = [f"== {self.name}"]
        lines += [f"   {key:<{width}}  {value}" for key, value in self.figures.items()]
        lines.append(f"   lost: {'; '.join(self.lost) if self.lost else 'nothing'}")
        return "\n".join(lines)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll `condition` until true; raise naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {seconds:.0f} s")
        time.sleep(0.05)


class ScratchPostgres:
    """A throw-away embedded PostgreSQL that a scenario can stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.server = EmbeddedPostgres(folder / "pgdata")
        self.url = ""

    def start(self) -> str:
        # In a child process: pgserver caches its server handle per process, so after a stop the
        # same process would be told the old server still runs.
        code = "import sys; from pathlib import Path; from oee_pipelines.storage.embedded_postgres import "
        code += "EmbeddedPostgres; print(EmbeddedPostgres(Path(sys.argv[1])).start())"
        completed = subprocess.run(
            [sys.executable, "-c", code, str(self.server.pgdata)], capture_output=True, text=True, timeout=120
        )
        if completed.returncode != 0:
            raise RuntimeError(f"scratch PostgreSQL did not start: {completed.stderr[-2000:]}")
        self.url = completed.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        self.server.stop()


@contextmanager
def scratch_folder(purpose: str) -> Iterator[Path]:
    """A new folder under the system temp dir, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"oee-reliability-{purpose}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def scratch_postgres() -> Iterator[ScratchPostgres]:
    # Not under a pytest tmp folder: as root the server runs as its own user and must reach the folder.
    with scratch_folder("pg") as folder:
        scratch = ScratchPostgres(folder)
        try:
            scratch.start()
            yield scratch
        finally:
            scratch.stop()


def load_plant_reference(
    warehouse: WarehouseResource, plant: SimulatedPlant, extra: list[tuple[str, pd.DataFrame, list[str]]]
) -> None:
    """The simulated plant's organization, sites, lines and machines, then `extra` (table, rows, key)."""
    frames = [
        ("organizations", plant.organizations(), ["id"]),
        ("sites", plant.sites(), ["id"]),
        ("production_lines", plant.lines(), ["id"]),
        ("machines", plant.machines(), ["id"]),
        *extra,
    ]
    for table, frame, keys in frames:
        warehouse.upsert(table, pa.Table.from_pandas(frame, preserve_index=False), keys)
