"""One day's telemetry of one historian, collected page by page and written as one lake folder.

Pages are kept with their repeating text columns (org, machine, signal, tag, run id...) dictionary
encoded, which holds a day in about a third of the memory of plain strings; each Parquet part is
turned back into `TELEMETRY_SCHEMA` only when `Lake.replace_folder` asks for it, so at most one part
is expanded at a time. Rows stay in arrival order: sorting a day would copy it (measured: the copy
cost more memory than the encoding saved), and pages of concurrent requests arrive in any order, so
a re-run writes the same rows, not necessarily in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.storage.lake import Lake

PART_ROWS = 2_000_000
REPEATING_COLUMNS = (
    "org_id",
    "site_id",
    "line_id",
    "machine_id",
    "signal",
    "unit",
    "source_system",
    "source_ref",
    "ingest_run_id",
)


def telemetry_folder(system: str, day: date) -> str:
    return f"telemetry/source={system}/{Lake.date_folder(day)}"


class DayParts:
    """The telemetry pages of one system-day; `table()` is the day, `LazyParts(day)` its files."""

    def __init__(self) -> None:
        self._pages: list[pa.Table] = []
        self.rows = 0

    def add(self, telemetry: pa.Table) -> None:
        if telemetry.num_rows == 0:
            return
        compact = telemetry
        for name in REPEATING_COLUMNS:
            index = compact.schema.get_field_index(name)
            compact = compact.set_column(index, name, pc.dictionary_encode(compact[name]))
        self._pages.append(compact)
        self.rows += telemetry.num_rows

    def add_existing(self, telemetry: pa.Table) -> None:
        """Rows already in the lake that this run keeps (a backfill narrowed to some tags)."""
        self.add(telemetry.cast(TELEMETRY_SCHEMA))

    def table(self) -> pa.Table:
        """The whole day, compact, in arrival order (no copy: one chunk per page)."""
        if not self._pages:
            return TELEMETRY_SCHEMA.empty_table()
        day = pa.concat_tables(self._pages, promote_options="permissive")
        self._pages = []
        return day


class LazyParts(Mapping[str, pa.Table]):
    """`part-00000.parquet`.. of at most PART_ROWS rows, each cast to TELEMETRY_SCHEMA when read."""

    def __init__(self, day: pa.Table) -> None:
        self._day = day
        count = max(1, -(-day.num_rows // PART_ROWS))
        self._names = [f"part-{index:05d}.parquet" for index in range(count)]

    def __getitem__(self, name: str) -> pa.Table:
        index = self._names.index(name)
        return self._day.slice(index * PART_ROWS, PART_ROWS).cast(TELEMETRY_SCHEMA)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
