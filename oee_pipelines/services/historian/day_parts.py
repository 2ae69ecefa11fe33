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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.domain.tag_mapping import COMPACT_TELEMETRY_SCHEMA, REPEATING_COLUMNS
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.storage.lake import Lake, TableStream

PART_ROWS = 2_000_000
PREVIEW_ROWS = 10
# Pages up to this many rows expand their one-text columns from cached arrays (`Expander`); a bigger
# page (rows kept by a narrowed run) is cast. The cached arrays hold at most CACHED_TEXT_BYTES in all:
# the texts used longest ago go first (one text per machine, say, over thousands of machines).
CACHED_TEXT_ROWS = 1 << 19
CACHED_TEXT_BYTES = 32 << 20
# A dictionary column is looked at for one text only up to this many entries (mapping rows).
MAX_LOOKED_AT_TEXTS = 4096


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


class Expander:
    """Compact telemetry pages -> `TELEMETRY_SCHEMA`: the values and chunks of `page.cast(TELEMETRY_SCHEMA)`
    (so the same Parquet bytes), cheaper. Most dictionary columns of a historian page hold one text
    throughout (the organization, the system, the run id, often the site, line, unit and signal);
    such a column is a slice of a cached array of that text instead of a copy per page. Other
    columns are cast as before."""

    def __init__(self) -> None:
        self._repeated: dict[str, pa.Array] = {}

    def expand(self, page: pa.Table) -> pa.Table:
        if not page.schema.equals(COMPACT_TELEMETRY_SCHEMA) or page.num_rows > CACHED_TEXT_ROWS:
            return page.cast(TELEMETRY_SCHEMA)
        columns = []
        for field, column in zip(TELEMETRY_SCHEMA, page.columns, strict=True):
            if pa.types.is_dictionary(column.type):
                column = self._text_column(column, field.type, page.num_rows)
            columns.append(column)
        return pa.Table.from_arrays(columns, schema=TELEMETRY_SCHEMA)

    def _text_column(self, column: pa.ChunkedArray, text_type: pa.DataType, rows: int) -> pa.ChunkedArray:
        """The column decoded: a cached array's slice when every entry it may point at is one text."""
        text = _single_text(column)
        if text is None or rows == 0:
            return column.cast(text_type)
        repeated = self._repeated.pop(text, None)
        if repeated is None or len(repeated) < rows:
            size = min(max(rows, 2 * len(repeated) if repeated is not None else 0), CACHED_TEXT_ROWS)
            indices = pa.array(np.zeros(size, np.int32))
            repeated = pa.DictionaryArray.from_arrays(indices, pa.array([text], text_type)).cast(text_type)
        self._repeated[text] = repeated  # last in the dict: used most recently
        while sum(cached.nbytes for cached in self._repeated.values()) > CACHED_TEXT_BYTES:
            del self._repeated[next(iter(self._repeated))]
        return pa.chunked_array([repeated.slice(0, rows)], text_type)


def _single_text(column: pa.ChunkedArray) -> str | None:
    """The one text every row of a dictionary column holds (no null index, and the dictionary entries the
    rows point at are one non-null text); None otherwise, or for a dictionary too long to look at."""
    if column.null_count or column.num_chunks != 1:
        return None
    chunk = column.chunk(0)
    texts = chunk.dictionary.to_pylist() if 0 < len(chunk.dictionary) <= MAX_LOOKED_AT_TEXTS else []
    if len(set(texts)) > 1:  # e.g. one entry per mapping row: keep the entries this page points at
        pointed_at = np.bincount(chunk.indices.to_numpy(zero_copy_only=False), minlength=len(texts)) > 0
        texts = [text for text, used in zip(texts, pointed_at.tolist(), strict=True) if used]
    distinct = set(texts)
    return distinct.pop() if len(distinct) == 1 else None


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
        self._expander = Expander()
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
            yield self._expander.expand(page)
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
