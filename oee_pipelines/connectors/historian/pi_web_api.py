"""OSIsoft/AVEVA PI Web API client: tag paths -> WebIds, recorded and interpolated values as Arrow.

Quality (0-100) from the value flags: `Good` false, a system digital state (`IsSystem`, e.g.
"I/O Timeout") or an `Errors` object -> 0; `Questionable` -> 50; `Substituted` -> 75; otherwise
100. A digital state gives `text_value` = its `Name` and `value` = its `Value`.

Paging: PI silently truncates a stream at `maxCount` values, so a stream that returned exactly
`maxCount` values is asked again from its last timestamp T. The re-query repeats every value at
T that was already returned (several values may share T), so the client remembers how many
values at T it has and skips exactly those. A full page of values all at the page's start time
means `maxCount` or more values share one timestamp, which time-based paging cannot get past
(SourceDataError: raise `max_count`). Ranges are `[start, end)`.

Server limits: a server whose `MaxReturnedItemsPerCall` is below `max_count` answers 400 "Parameter
'maxCount' is greater than the maximum allowed (N)." The client then asks again with N (or with half
the count when the answer names no number, down to 1) and keeps that count for every later request;
`page_limit` is the count in use and `page_limit_reason` says why it is lower than configured. The
paging above does not depend on the count, so no value is lost or repeated when it changes.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
import numpy as np
import pyarrow as pa

from oee_pipelines.connectors.errors import SourceDataError, SourceSystemError
from oee_pipelines.connectors.historian.points import (
    HistorianCredentials,
    Page,
    chunked,
    decode_json,
    micros,
    parse_wire_times,
    points_table,
    run_pages,
    wire_time,
)
from oee_pipelines.connectors.http import RetryingHttpClient, RetryPolicy

SYSTEM = "pi"
# PI's default MaxReturnedItemsPerCall; asking for more is a 400.
PI_MAX_RETURNED_ITEMS_PER_CALL = 150_000
VALUE_FIELDS = "Timestamp;Value;Good;Questionable;Substituted"
STREAM_FIELDS = ";".join(f"Items.{field}" for field in VALUE_FIELDS.split(";"))
STREAMSET_FIELDS = "Items.WebId;Items.Name;Items.WebException;" + ";".join(
    f"Items.Items.{field}" for field in VALUE_FIELDS.split(";")
)
# PI's answer to a count above MaxReturnedItemsPerCall: "Parameter 'maxCount' is greater than the
# maximum allowed (150000)." (the number may be missing or written with separators).
LIMIT_ERROR = re.compile(r"greater than the maximum allowed(?:\s*\(\s*([\d,. ]+?)\s*\))?", re.IGNORECASE)


# The value structs hold only texts, numbers and each other, never a cycle: `gc=False` keeps a page's
# 50,000 values out of the cyclic garbage collector, which otherwise walks them again and again.
class PiState(msgspec.Struct, gc=False):
    """A digital state, a system state, or an error object in place of a value."""

    Name: str | None = None
    Value: float | None = None
    IsSystem: bool = False
    Errors: list[str] | None = None

    def __float__(self) -> float:
        """NaN, so that numpy reads a page's values, numbers and states, in one call (`_columns`)."""
        return float("nan")


class PiValue(msgspec.Struct, gc=False):
    Timestamp: str
    Value: float | PiState | None = None
    Good: bool = True
    Questionable: bool = False
    Substituted: bool = False


class PiWebException(msgspec.Struct, gc=False):
    StatusCode: int | None = None
    Errors: list[str] = []


class PiStream(msgspec.Struct, gc=False):
    WebId: str | None = None
    Name: str | None = None
    Items: list[PiValue] = []
    WebException: PiWebException | None = None


class PiStreamSet(msgspec.Struct, gc=False):
    Items: list[PiStream]


class PiValues(msgspec.Struct, gc=False):
    Items: list[PiValue]


class PiPoint(msgspec.Struct):
    WebId: str
    Name: str = ""


class PiMultipleItem(msgspec.Struct):
    Identifier: str
    Object: PiPoint | None = None
    Exception: PiWebException | None = None


class PiMultiple(msgspec.Struct):
    Items: list[PiMultipleItem]


@dataclass(frozen=True)
class StreamCursor:
    """Where the next page of one stream starts: `start`, skipping `seen_at_start` values at it."""

    tag: str
    web_id: str
    seen_at_start: int = 0


@dataclass(frozen=True)
class RecordedRequest:
    streams: tuple[StreamCursor, ...]
    start: datetime
    end: datetime


class PiWebApiClient:
    """One PI Web API server; `base_url` ends with `/piwebapi`, tags are names on `data_server`."""

    def __init__(
        self,
        base_url: str,
        data_server: str,
        credentials: HistorianCredentials,
        *,
        max_count: int = 50_000,
        tags_per_request: int = 10,
        concurrency: int = 4,
        policy: RetryPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        self.data_server = data_server
        self.max_count = max_count
        self.configured_max_count = max_count
        self._page_limit_reason: str | None = None
        self._limit_lock = threading.Lock()
        # Responses are fetched `concurrency` at a time but decoded one at a time: decoding holds the
        # GIL anyway, and one page of value structs alive at once (not one per request) bounds memory.
        self._decode_lock = threading.Lock()
        self.tags_per_request = tags_per_request
        self.concurrency = concurrency
        self._http = RetryingHttpClient(
            SYSTEM,
            base_url.rstrip("/") + "/",
            policy=policy,
            auth=credentials.httpx_auth(),
            headers=credentials.headers(),
            verify=verify,
        )
        self._stream_decoder = msgspec.json.Decoder(PiValues)
        self._streamset_decoder = msgspec.json.Decoder(PiStreamSet)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PiWebApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def page_limit(self) -> int:
        return self.max_count

    @property
    def page_limit_reason(self) -> str | None:
        return self._page_limit_reason

    def read_points(self, tags: Sequence[str], start: datetime, end: datetime) -> Iterator[pa.Table]:
        """`HistorianClient.read_points`: the recorded values (`read_recorded`)."""
        return self.read_recorded(tags, start, end)

    def tag_path(self, tag: str) -> str:
        return f"\\\\{self.data_server}\\{tag}"

    def web_id(self, tag: str) -> str:
        """The WebId of one tag (`GET points?path=`)."""
        response = self._http.get("points", params={"path": self.tag_path(tag)}, call=f"find PI point {tag}")
        return decode_json(
            msgspec.json.Decoder(PiPoint), response.content, SYSTEM, f"find PI point {tag}"
        ).WebId

    def web_ids(self, tags: Sequence[str]) -> dict[str, str]:
        """WebIds of many tags (`GET points/multiple?path=..&path=..`); SourceDataError names unknown tags."""
        found: dict[str, str] = {}
        missing: list[str] = []
        for group in chunked(list(tags), 100):
            call = f"find {len(group)} PI points"
            params = [("path", self.tag_path(tag)) for tag in group]
            response = self._http.get("points/multiple", params=params, call=call)
            items = decode_json(msgspec.json.Decoder(PiMultiple), response.content, SYSTEM, call).Items
            for tag, item in zip(group, items, strict=True):
                if item.Object is None:
                    missing.append(tag)
                else:
                    found[tag] = item.Object.WebId
        if missing:
            raise SourceDataError(SYSTEM, "find PI points", f"unknown tags: {', '.join(missing)}")
        return found

    def read_recorded(self, tags: Sequence[str], start: datetime, end: datetime) -> Iterator[pa.Table]:
        """Recorded values with start <= ts < end, one raw point table per response."""
        web_ids = self.web_ids(tags)
        first = [
            RecordedRequest(tuple(StreamCursor(tag, web_ids[tag]) for tag in group), start, end)
            for group in chunked(list(tags), self.tags_per_request)
        ]
        return run_pages(first, self._recorded_page, self.concurrency)

    def read_interpolated(
        self, tags: Sequence[str], start: datetime, end: datetime, interval: timedelta
    ) -> Iterator[pa.Table]:
        """Interpolated values every `interval` from `start` up to (not including) `end`, in chunks of
        at most `max_count` values (lowered, as for recorded values, when the server refuses one)."""
        web_ids = self.web_ids(tags)
        for tag in tags:
            chunk_start = start
            while chunk_start < end:
                count = self.max_count
                chunk_end = min(chunk_start + interval * (count - 1), end - timedelta(microseconds=1))
                try:
                    chunk = self._interpolated_chunk(tag, web_ids[tag], chunk_start, chunk_end, interval)
                except SourceSystemError as error:
                    if self._lower_max_count(error, count):
                        continue
                    raise
                yield chunk
                chunk_start = chunk_end + interval

    # Internals.
    def _recorded_page(self, request: RecordedRequest) -> Page[RecordedRequest]:
        """One response; a 400 naming the server's limit lowers the count and asks again."""
        while True:
            count = self.max_count
            try:
                return self._recorded_page_with(request, count)
            except SourceSystemError as error:
                if not self._lower_max_count(error, count):
                    raise

    def _lower_max_count(self, error: SourceSystemError, refused: int) -> bool:
        """Lower `max_count` below `refused` after a limit error; False when it is not one or at 1."""
        match = LIMIT_ERROR.search(error.reason) if error.status_code == 400 else None
        if match is None:
            return False
        digits = re.sub(r"\D", "", match.group(1) or "")
        named = int(digits) if digits else None
        lower = named if named is not None and 0 < named < refused else refused // 2
        with self._limit_lock:
            if self.max_count < refused:  # another request already lowered it
                return True
            if lower < 1:
                return False
            self.max_count = lower
            limit = f"its MaxReturnedItemsPerCall is {named}" if named else "it named no limit: halved"
            self._page_limit_reason = (
                f"the PI server refused maxCount={self.configured_max_count} ({limit}); "
                f"using maxCount={lower}"
            )
        return True

    def _recorded_page_with(self, request: RecordedRequest, count: int) -> Page[RecordedRequest]:
        call = (
            f"recorded values of {', '.join(c.tag for c in request.streams)} from {wire_time(request.start)}"
        )
        params: list[tuple[str, str | int]] = [
            ("startTime", wire_time(request.start)),
            ("endTime", wire_time(request.end)),
            ("maxCount", count),
            ("boundaryType", "Inside"),
        ]
        if len(request.streams) == 1:
            web_id = request.streams[0].web_id
            params.append(("selectedFields", STREAM_FIELDS))
            body = self._http.get(f"streams/{web_id}/recorded", params=params, call=call).content
            with self._decode_lock:
                items = decode_json(self._stream_decoder, body, SYSTEM, call).Items
                del body
                return self._page_of(request, [PiStream(WebId=web_id, Items=items)], call, count)
        params += [("webId", cursor.web_id) for cursor in request.streams]
        params.append(("selectedFields", STREAMSET_FIELDS))
        body = self._http.get("streamsets/recorded", params=params, call=call).content
        with self._decode_lock:
            streams = decode_json(self._streamset_decoder, body, SYSTEM, call).Items
            del body
            return self._page_of(request, streams, call, count)

    def _page_of(
        self, request: RecordedRequest, streams: list[PiStream], call: str, count: int
    ) -> Page[RecordedRequest]:
        if len(streams) != len(request.streams):
            raise SourceDataError(
                SYSTEM, call, f"asked for {len(request.streams)} streams, got {len(streams)}"
            )
        for cursor, stream in zip(request.streams, streams, strict=True):
            if stream.WebException is not None:
                reason = "; ".join(stream.WebException.Errors) or "no reason given"
                raise SourceSystemError(
                    SYSTEM, call, f"tag {cursor.tag}: {reason}", status_code=stream.WebException.StatusCode
                )
        tags = [cursor.tag for cursor in request.streams]
        ts_us, value, text, quality = _columns([stream.Items for stream in streams])
        lengths = np.array([len(stream.Items) for stream in streams], dtype=np.int64)
        codes = np.repeat(np.arange(len(tags), dtype=np.int32), lengths)
        keep = ts_us < micros(request.end)
        continuing: dict[datetime, list[StreamCursor]] = defaultdict(list)
        bounds = np.concatenate(([0], np.cumsum(lengths)))
        for index, cursor in enumerate(request.streams):
            stream_ts = ts_us[bounds[index] : bounds[index + 1]]
            keep[bounds[index] : bounds[index] + _already_seen(stream_ts, request.start, cursor)] = False
            if len(stream_ts) >= count:
                next_start, next_cursor = self._continuation(stream_ts, request, cursor, call, count)
                if next_start < request.end:
                    continuing[next_start].append(next_cursor)
        if not keep.all():  # the usual page drops nothing: no copy
            codes, ts_us, value, quality = codes[keep], ts_us[keep], value[keep], quality[keep]
            text = _taken(text, keep)
        table = points_table(tags, codes, ts_us, value, text, quality)
        next_requests = [
            RecordedRequest(tuple(cursors), next_start, request.end)
            for next_start, cursors in continuing.items()
        ]
        return Page(table, next_requests)

    def _continuation(
        self, stream_ts: np.ndarray, request: RecordedRequest, cursor: StreamCursor, call: str, count: int
    ) -> tuple[datetime, StreamCursor]:
        last = int(stream_ts[-1])
        seen_at_last = int(np.count_nonzero(stream_ts == last))
        if last == micros(request.start) and seen_at_last <= cursor.seen_at_start:
            raise SourceDataError(
                SYSTEM,
                call,
                f"tag {cursor.tag}: {count} or more values share one timestamp; raise max_count",
            )
        next_start = request.start + timedelta(microseconds=last - micros(request.start))
        return next_start, StreamCursor(cursor.tag, cursor.web_id, seen_at_last)

    def _interpolated_chunk(
        self, tag: str, web_id: str, start: datetime, end: datetime, interval: timedelta
    ) -> pa.Table:
        call = f"interpolated values of {tag} from {wire_time(start)}"
        params = {
            "startTime": wire_time(start),
            "endTime": wire_time(end),
            "interval": f"{interval.total_seconds():g}s",
            "selectedFields": STREAM_FIELDS,
        }
        response = self._http.get(f"streams/{web_id}/interpolated", params=params, call=call)
        items = decode_json(self._stream_decoder, response.content, SYSTEM, call).Items
        ts_us, value, text, quality = _columns([items])
        return points_table([tag], np.zeros(len(items), np.int32), ts_us, value, text, quality)


def _already_seen(stream_ts: np.ndarray, start: datetime, cursor: StreamCursor) -> int:
    """How many leading values of a re-queried stream were returned by the previous page."""
    if cursor.seen_at_start == 0:
        return 0
    at_start = int(np.count_nonzero(stream_ts == micros(start)))
    return min(at_start, cursor.seen_at_start)


def _columns(
    streams: list[list[PiValue]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Timestamps, numbers, texts and 0-100 quality of the values of several streams, concatenated."""
    items = [item for stream in streams for item in stream]
    ts_us = parse_wire_times([item.Timestamp for item in items])
    good = _flags([item.Good for item in items])
    questionable = _flags([item.Questionable for item in items])
    substituted = _flags([item.Substituted for item in items])
    raw_values = [item.Value for item in items]
    value = np.array(raw_values, dtype=np.float64)  # numbers; NaN for null and for states (`__float__`)
    text: np.ndarray | None = None  # object array of str | None, only when a value is a state
    # States are the rare NaNs: only those are looked at one by one.
    missing = np.flatnonzero(np.isnan(value)).tolist()
    states = [(index, state) for index in missing if isinstance(state := raw_values[index], PiState)]
    if states:
        text, good = _split_states(states, value, good)
    quality = np.select([~good, questionable, substituted], [0, 50, 75], 100).astype(np.int16)
    return ts_us, value, text, quality


def _flags(flags: list[bool]) -> np.ndarray:
    """A list of bools as a (read-only) numpy bool array: through bytes, a third of `np.array`'s time."""
    return np.frombuffer(bytes(flags), dtype=np.bool_)


def _split_states(
    states: list[tuple[int, PiState]], value: np.ndarray, good: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Texts (and numbers, in `value`) of the values that hold digital states, system states or errors."""
    text = np.full(len(value), None, dtype=object)
    good = good.copy()
    for index, state in states:
        if state.Errors is not None or state.IsSystem:
            good[index] = False
            text[index] = state.Name if state.Errors is None else "; ".join(state.Errors)
        else:
            value[index] = np.nan if state.Value is None else state.Value
            text[index] = state.Name
    return text, good


def _taken(text: np.ndarray | None, keep: np.ndarray) -> np.ndarray | None:
    return None if text is None else text[keep]
