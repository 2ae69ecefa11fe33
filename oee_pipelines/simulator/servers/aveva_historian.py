"""An AVEVA (Wonderware) Historian REST simulator over a `PointSource`: the v2 OData routes.

- `GET /Historian/v2/ProcessValues?$filter=FQN eq 'X' and DateTime ge A and DateTime lt B`
  -> `{"@odata.context", "value": [{FQN, DateTime, OpcQuality, Value, Text, Unit}], "@odata.nextLink"}`
- `GET /Historian/v2/AnalogSummary?$filter=FQN eq 'X' and StartDateTime ge A and EndDateTime le B
  &Resolution=<ms>` -> one row per interval: Minimum, Maximum, Average, First, Last, ValueCount.

At most `page_size` rows per response; the rest is behind `@odata.nextLink` (`$skiptoken`).
Quality on the wire is OPC DA: 192 good, 216 good (substituted), 64 uncertain, 0 bad.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import urlencode

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oee_pipelines.simulator.servers.point_source import (
    EPOCH,
    HistorianLogin,
    PointArrays,
    PointSource,
    iso_timestamps,
    joined_json,
    json_numbers,
    to_micros,
)
from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches

FQN_CLAUSE = re.compile(r"FQN eq '((?:[^']|'')*)'")
TIME_CLAUSE = re.compile(r"(StartDateTime|EndDateTime|DateTime) (ge|gt|le|lt) (\S+)")


class ODataError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        super().__init__(message)


class AvevaHistorianSimulator:
    """The app (`.app`, wrapped in fault injection) and the switches a test turns."""

    def __init__(
        self,
        source: PointSource,
        *,
        page_size: int = 5000,
        switches: FaultSwitches | None = None,
        login: HistorianLogin | None = None,
    ) -> None:
        self.source = source
        self.page_size = page_size
        self.switches = switches or FaultSwitches()
        self.login = login or HistorianLogin()
        self._tags = set(source.tags())
        routes = [
            Route("/Historian/v2/ProcessValues", self._process_values),
            Route("/Historian/v2/AnalogSummary", self._analog_summary),
        ]
        self.app = FaultInjectionMiddleware(Starlette(routes=routes), self.switches)

    async def _process_values(self, request: Request) -> Response:
        return await self._answer(request, "ProcessValues", self._process_value_rows)

    async def _analog_summary(self, request: Request) -> Response:
        return await self._answer(request, "AnalogSummary", self._summary_rows)

    async def _answer(
        self,
        request: Request,
        entity: str,
        rows: Callable[[Request, str, datetime, datetime], tuple[int, bytes]],
    ) -> Response:
        if not self.login.accepts(request):
            return _error(401, "Unauthorized")
        try:
            body = await run_in_threadpool(self._body, request, entity, rows)
        except ODataError as exc:
            return _error(exc.status_code, str(exc))
        return Response(body, media_type="application/json")

    def _body(
        self,
        request: Request,
        entity: str,
        rows: Callable[[Request, str, datetime, datetime], tuple[int, bytes]],
    ) -> bytes:
        tag, start, end = self._filter(request.query_params.get("$filter", ""))
        skip = int(request.query_params.get("$skiptoken", "0") or 0)
        total, page = rows(request, tag, start, end)
        context = f"{request.base_url}Historian/v2/$metadata#{entity}"
        body = b'{"@odata.context":' + orjson.dumps(context) + b',"value":[' + page + b"]"
        if skip + self.page_size < total:
            query = {key: value for key, value in request.query_params.items() if key != "$skiptoken"}
            query["$skiptoken"] = str(skip + self.page_size)
            next_link = f"{request.base_url}Historian/v2/{entity}?{urlencode(query)}"
            body += b',"@odata.nextLink":' + orjson.dumps(next_link)
        return body + b"}"

    def _filter(self, text: str) -> tuple[str, datetime, datetime]:
        tags = [match.replace("''", "'") for match in FQN_CLAUSE.findall(text)]
        if len(tags) != 1:
            raise ODataError(400, "The $filter must name exactly one FQN with 'FQN eq'.")
        if tags[0] not in self._tags:
            raise ODataError(404, f"Tag '{tags[0]}' was not found.")
        start = end = None
        for _field, operator, moment_text in TIME_CLAUSE.findall(text):
            moment = _parse_time(moment_text)
            if operator in ("ge", "gt"):
                start = moment + (timedelta(microseconds=1) if operator == "gt" else timedelta(0))
            else:
                end = moment + (timedelta(microseconds=1) if operator == "le" else timedelta(0))
        if start is None or end is None:
            raise ODataError(400, "The $filter must bound the time from both sides.")
        return tags[0], start, end

    def _page_slice(self, request: Request) -> slice:
        skip = int(request.query_params.get("$skiptoken", "0") or 0)
        return slice(skip, skip + self.page_size)

    def _process_value_rows(
        self, request: Request, tag: str, start: datetime, end: datetime
    ) -> tuple[int, bytes]:
        points = self.source.points(tag, start, end)
        window = self._page_slice(request)
        text = points.text_value[window] if points.text_value is not None else None
        page = PointArrays(points.ts_us[window], points.value[window], points.quality[window], text)
        return len(points), process_values_json(tag, page)

    def _summary_rows(self, request: Request, tag: str, start: datetime, end: datetime) -> tuple[int, bytes]:
        resolution_text = request.query_params.get("Resolution", "3600000")
        if not resolution_text.isdigit() or int(resolution_text) == 0:
            raise ODataError(
                400, f"Resolution must be a positive number of milliseconds: {resolution_text!r}."
            )
        resolution_us = int(resolution_text) * 1000
        # Whole intervals only: the last one ends inside the filter's time bound.
        starts = np.arange(
            to_micros(start), to_micros(end) - resolution_us + 1, resolution_us, dtype=np.int64
        )
        window = self._page_slice(request)
        page_starts = starts[window]
        return len(starts), self._summary_json(tag, page_starts, resolution_us)

    def _summary_json(self, tag: str, starts: np.ndarray, resolution_us: int) -> bytes:
        if len(starts) == 0:
            return b""
        points = self.source.points(
            tag, _from_micros(int(starts[0])), _from_micros(int(starts[-1]) + resolution_us)
        )
        good = points.quality > 0
        ts, values = points.ts_us[good], points.value[good]
        bucket = (ts - starts[0]) // resolution_us
        count = np.bincount(bucket, minlength=len(starts))
        average = np.bincount(bucket, weights=values, minlength=len(starts)) / np.maximum(count, 1)
        frame_stats = _bucket_stats(bucket, values, len(starts))
        nan_if_empty = np.where(count > 0, 1.0, np.nan)
        pieces: list[pa.Array | str] = [
            '{"FQN":' + orjson.dumps(tag).decode() + ',"StartDateTime":"',
            iso_timestamps(starts),
            '","EndDateTime":"',
            iso_timestamps(starts + resolution_us),
            '","OpcQuality":',
            pc.if_else(pa.array(count > 0), "192", "0"),
            ',"Minimum":',
            json_numbers(frame_stats["min"]),
            ',"Maximum":',
            json_numbers(frame_stats["max"]),
            ',"Average":',
            json_numbers(average * nan_if_empty),
            ',"First":',
            json_numbers(frame_stats["first"]),
            ',"Last":',
            json_numbers(frame_stats["last"]),
            ',"ValueCount":',
            pc.cast(pa.array(count), pa.string()),
            ',"Unit":""}',
        ]
        return joined_json(pieces)


def process_values_json(tag: str, points: PointArrays) -> bytes:
    """ProcessValues rows: numbers in Value, state names in Text, OPC quality, null Value when bad."""
    opc = np.select([points.quality >= 100, points.quality >= 75, points.quality >= 50], [192, 216, 64], 0)
    bad = points.quality == 0
    numbers = json_numbers(np.where(bad, np.nan, points.value))
    if points.text_value is None:
        texts: pa.Array | str = "null"
    else:
        texts = pc.fill_null(
            pc.binary_join_element_wise('"', pa.array(points.text_value, pa.string()), '"', ""), "null"
        )
    pieces: list[pa.Array | str] = [
        '{"FQN":' + orjson.dumps(tag).decode() + ',"DateTime":"',
        iso_timestamps(points.ts_us),
        '","OpcQuality":',
        pc.cast(pa.array(opc), pa.string()),
        ',"Value":',
        numbers,
        ',"Text":',
        texts,
        ',"Unit":""}',
    ]
    return joined_json(pieces)


def _bucket_stats(bucket: np.ndarray, values: np.ndarray, buckets: int) -> dict[str, np.ndarray]:
    stats = {name: np.full(buckets, np.nan) for name in ("min", "max", "first", "last")}
    if len(bucket) == 0:
        return stats
    boundaries = np.flatnonzero(np.concatenate(([True], bucket[1:] != bucket[:-1])))
    present = bucket[boundaries]
    stats["min"][present] = np.minimum.reduceat(values, boundaries)
    stats["max"][present] = np.maximum.reduceat(values, boundaries)
    stats["first"][present] = values[boundaries]
    stats["last"][present] = values[np.concatenate((boundaries[1:], [len(values)])) - 1]
    return stats


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ODataError(400, f"Not a valid DateTimeOffset: {text!r}.") from None
    if moment.tzinfo is None:
        raise ODataError(400, f"A DateTimeOffset needs a time zone: {text!r}.")
    return moment


def _from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def _error(status_code: int, message: str) -> Response:
    body = orjson.dumps({"error": {"code": str(status_code), "message": message}})
    return Response(body, status_code, media_type="application/json")
