"""One day's telemetry of one historian, written to its lake folder while its pages are still arriving.

`StreamedDay(pages)` is the `files` mapping `Lake.replace_folder` takes, built lazily: iterating it
pulls pages (compact telemetry from `TagMapper.map_compact`, repeating texts dictionary encoded) and
hands them to the Parquet writer of `part-00000.parquet` as they arrive (expanded to `TELEMETRY_SCHEMA`
page by page), up to PART_ROWS rows, then goes on with the next part. So a day of any size holds at
most one row group and a few pages in memory, never a whole part or the whole day, and the folder is
still replaced in one step: the parts are written into the lake's staging folder and swapped in after
the last page, and a page that fails leaves the folder as it was. Rows stay in arrival order and the
parts are cut every PART_ROWS rows, as when the day was collected first (pages of concurrent requests
arrive in any order, so a re-run writes the same rows, not necessarily in the same order).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.domain.tag_mapping import COMPACT_TELEMETRY_SCHEMA, REPEATING_COLUMNS
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.storage.lake import Lake, TableStream

PART_ROWS = 2_000_000
PREVIEW_ROWS = 10


def telemetry_folder(system: str, day: date) -> str:
    return f"telemetry/source={system}/{Lake.date_folder(day)}"


def compact(telemetry: pa.Table) -> pa.Table:
    """Telemetry in `COMPACT_TELEMETRY_SCHEMA` (its repeating text columns dictionary encoded)."""
    if telemetry.schema.equals(COMPACT_TELEMETRY_SCHEMA):
        return telemetry
    telemetry = telemetry.cast(TELEMETRY_SCHEMA)
    for name in REPEATING_COLUMNS:
        index = telemetry.schema.get_field_index(name)
        telemetry = telemetry.set_column(index, name, pc.dictionary_encode(telemetry[name]))
    return telemetry.cast(COMPACT_TELEMETRY_SCHEMA)


class StreamedDay(Mapping[str, TableStream]):
    """The part files of one system-day, cut from `pages` while the lake writes them (see the module).

    Iterate it once (`Lake.replace_folder` does); afterwards `rows`, `preview`, `first_ts` and
    `last_ts` describe what was written, and `parts_written` counts the parts handed out so far.
    Each part is a `TableStream`: its pages go to the Parquet writer as they arrive, expanded to
    `TELEMETRY_SCHEMA` one page at a time, so only the row group being filled is held.
    """

    def __init__(self, pages: Iterable[pa.Table], part_rows: int | None = None) -> None:
        self._pages = iter(pages)
        self._part_rows = part_rows or PART_ROWS
        self._names: list[str] = []
        self._current: tuple[str, TableStream] | None = None
        self._carry: pa.Table | None = None  # the first rows of the next part, pulled already
        self._part_open = False
        self._finished = False
        self.rows = 0
        self.preview = TELEMETRY_SCHEMA.empty_table()
        self._first: pa.Scalar | None = None
        self._last: pa.Scalar | None = None

    @property
    def parts_written(self) -> int:
        return len(self._names)

    @property
    def first_ts(self) -> datetime | None:
        return None if self._first is None else self._first.as_py()

    @property
    def last_ts(self) -> datetime | None:
        return None if self._last is None else self._last.as_py()

    def __iter__(self) -> Iterator[str]:
        if self._finished:
            return iter(list(self._names))
        if self._names:
            raise RuntimeError("a StreamedDay is streamed once")
        return self._stream()

    def __getitem__(self, name: str) -> TableStream:
        if self._current is None or self._current[0] != name:
            raise KeyError(name)
        part = self._current[1]
        self._current = None  # the writer holds the part only while it writes it
        return part

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __len__(self) -> int:
        return len(self._names)

    def _stream(self) -> Iterator[str]:
        self._carry = self._next_page()
        if self._carry is None:  # a day of no points is one empty part, as it always was
            yield self._hand_out(iter([COMPACT_TELEMETRY_SCHEMA.empty_table().cast(TELEMETRY_SCHEMA)]))
        while self._carry is not None:
            yield self._hand_out(self._part())
            if self._part_open:
                raise RuntimeError(f"{self._names[-1]} was not written to its end before the next part")
            pa.default_memory_pool().release_unused()  # give the written part's memory back
            if self._carry is None:
                self._carry = self._next_page()
        self._finished = True

    def _part(self) -> Iterator[pa.Table]:
        """The next PART_ROWS rows (fewer for the last part), page by page, in `TELEMETRY_SCHEMA`."""
        self._part_open = True
        room = self._part_rows
        page, self._carry = self._carry, None
        while page is not None:
            if page.num_rows > room:
                self._carry = page.slice(room)
                page = page.slice(0, room)
            room -= page.num_rows
            yield page.cast(TELEMETRY_SCHEMA)
            if room == 0:
                break
            page = self._next_page()
        self._part_open = False

    def _next_page(self) -> pa.Table | None:
        """The next page with rows, compact and noted; None after the last."""
        for page in self._pages:
            if page.num_rows:
                page = compact(page)
                self._note(page)
                return page
        return None

    def _hand_out(self, tables: Iterator[pa.Table]) -> str:
        name = f"part-{len(self._names):05d}.parquet"
        self._names.append(name)
        self._current = (name, TableStream(TELEMETRY_SCHEMA, tables))
        return name

    def _note(self, page: pa.Table) -> None:
        if self.rows < PREVIEW_ROWS:
            head = page.slice(0, PREVIEW_ROWS - self.rows).cast(TELEMETRY_SCHEMA)
            self.preview = pa.concat_tables([self.preview, head]).combine_chunks()
        self.rows += page.num_rows
        bounds = pc.min_max(page["ts"])
        low, high = bounds["min"], bounds["max"]
        if self._first is None or low.as_py() < self._first.as_py():
            self._first = low
        if self._last is None or high.as_py() > self._last.as_py():
            self._last = high
