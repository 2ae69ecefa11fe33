"""What the historian connectors share: the raw point schema, wire time formats, credentials, paging.

Every connector yields Arrow tables of raw points, one table per page, in `RAW_POINT_SCHEMA`:
`tag` (dictionary-encoded), `ts` (UTC, microseconds), `value`, `text_value` (digital state name,
system state or error text), `quality` (0-100: 100 good, 75 substituted, 50 questionable, 0 bad).
`oee_pipelines.domain.tag_mapping` turns them into telemetry rows.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from queue import Full, Queue
from typing import Generic, TypeVar

import httpx
import msgspec
import numpy as np
import pyarrow as pa

from oee_pipelines.connectors.errors import SourceDataError

RAW_POINT_SCHEMA = pa.schema(
    [
        pa.field("tag", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("text_value", pa.string()),
        pa.field("quality", pa.int16(), nullable=False),
    ]
)

RequestT = TypeVar("RequestT")
DecodedT = TypeVar("DecodedT")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class HistorianCredentials:
    """Basic (`username` + `password`) or Bearer (`bearer_token`) authentication."""

    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None

    def httpx_auth(self) -> httpx.Auth | None:
        if self.username is not None:
            return httpx.BasicAuth(self.username, self.password or "")
        return None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token}"} if self.bearer_token else {}


def wire_time(moment: datetime) -> str:
    """ISO 8601 in UTC with 7 fractional digits and Z, as PI and AVEVA write it."""
    if moment.tzinfo is None:
        raise ValueError(f"historian times must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def parse_wire_times(texts: Sequence[str]) -> np.ndarray:
    """ISO 8601 texts (any fractional digits, Z or offset) -> int64 microseconds since the epoch."""
    nanos = pa.array(texts, pa.string()).cast(pa.timestamp("ns", tz="UTC"))
    return nanos.cast(pa.int64()).to_numpy(zero_copy_only=False) // 1000


def micros(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def points_table(
    tags: list[str],
    tag_codes: np.ndarray,
    ts_us: np.ndarray,
    value: np.ndarray,
    text_value: Sequence[str | None] | np.ndarray | None,
    quality: np.ndarray,
) -> pa.Table:
    """A raw point table; `tag_codes` index into `tags`, `value` NaN means no number."""
    count = len(ts_us)
    columns = [
        pa.DictionaryArray.from_arrays(pa.array(tag_codes, pa.int32()), pa.array(tags, pa.string())),
        pa.array(ts_us, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        pa.array(value, pa.float64(), from_pandas=True),
        pa.array(text_value, pa.string()) if text_value is not None else pa.nulls(count, pa.string()),
        pa.array(quality, pa.int16()),
    ]
    return pa.Table.from_arrays(columns, schema=RAW_POINT_SCHEMA)


def empty_points() -> pa.Table:
    return RAW_POINT_SCHEMA.empty_table()


def concat_points(tables: Iterable[pa.Table]) -> pa.Table:
    """All pages in one table (tests and small ranges); an empty table with the schema if none."""
    collected = list(tables)
    if not collected:
        return empty_points()
    return pa.concat_tables(collected).unify_dictionaries().combine_chunks()


@dataclass(frozen=True)
class Page(Generic[RequestT]):
    """One response turned into points, and the requests that continue it."""

    table: pa.Table
    next_requests: list[RequestT]


def run_pages(
    first_requests: Iterable[RequestT], fetch: Callable[[RequestT], Page[RequestT]], concurrency: int
) -> Iterator[pa.Table]:
    """Fetch pages with at most `concurrency` requests in flight; yield each non-empty page as it lands."""
    pending: deque[RequestT] = deque(first_requests)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="historian") as pool:
        running: set[Future[Page[RequestT]]] = set()
        while pending or running:
            while pending and len(running) < concurrency:
                running.add(pool.submit(fetch, pending.popleft()))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                page = future.result()
                pending.extend(page.next_requests)
                if page.table.num_rows:
                    yield page.table


def read_ahead(pages: Iterator[pa.Table], max_pages: int) -> Iterator[pa.Table]:
    """`pages`, pulled by a thread of their own up to `max_pages` ahead of the caller, so fetching and
    parsing go on while the caller writes (Parquet and Arrow release the GIL). A page's error is
    raised to the caller; a caller that stops early stops the thread, which closes `pages`."""
    queue: Queue[tuple[pa.Table | None, BaseException | None]] = Queue(maxsize=max(1, max_pages))
    stop = threading.Event()

    def pull() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        queue.put((page, None), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    break
            outcome: tuple[pa.Table | None, BaseException | None] = (None, None)
        except BaseException as exc:
            outcome = (None, exc)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
        while not stop.is_set():
            try:
                queue.put(outcome, timeout=0.1)
                return
            except Full:
                continue

    puller = threading.Thread(target=pull, name="historian-read-ahead", daemon=True)
    puller.start()
    try:
        while True:
            page, error = queue.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        stop.set()
        puller.join()


def chunked(items: Sequence[ItemT], size: int) -> list[Sequence[ItemT]]:
    return [items[offset : offset + size] for offset in range(0, len(items), max(1, size))]


def decode_json(decoder: msgspec.json.Decoder[DecodedT], body: bytes, system: str, call: str) -> DecodedT:
    """A response body as typed structs, or SourceDataError quoting the start of the body."""
    try:
        return decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SourceDataError(
            system, call, f"unreadable response: {exc}; body starts {body[:120]!r}"
        ) from None
