"""A PI Web API simulator over a `PointSource`: the routes and JSON shapes of the real product.

Routes (under `/piwebapi`): `points?path=\\\\SERVER\\TAG`, `points/multiple?path=..&path=..`,
`streams/{webId}/recorded`, `streams/{webId}/interpolated`, `streamsets/recorded?webId=..`.
Recorded calls are `boundaryType=Inside` (both ends inclusive) and return at most `maxCount`
values per stream (default 1000, silently truncated); a `maxCount` above
`max_returned_items_per_call` (PI's MaxReturnedItemsPerCall, default 150,000) is a 400 with the
real product's body, `{"Errors": ["Parameter 'maxCount' is greater than the maximum allowed (N)."]}`,
as is an interpolated call that would return more values than that; `limit_in_error=False` leaves
the number out of the message (for clients that must then find the limit themselves).
Tags in `failing_tags` answer a `WebException` item inside a 200 streamset response.
Bodies are built column-wise with Arrow string kernels, never item by item.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

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
    HistorianLogin,
    PointArrays,
    PointSource,
    iso_timestamps,
    joined_json_buffer,
    json_numbers,
    stable_id,
    to_micros,
)
from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches

DEFAULT_MAX_COUNT = 1000
PI_MAX_RETURNED_ITEMS_PER_CALL = 150_000
INCLUSIVE_END = timedelta(microseconds=1)
INTERVAL_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400}
# PI's system digital state set offsets for the states the simulator serves.
SYSTEM_STATE_VALUES = {"I/O Timeout": 246, "No Data": 248, "Bad Input": 307}
# The flags after each value, by quality class: good, bad, questionable, substituted.
QUALITY_FLAGS = pa.array(
    [
        f',"Good":{good},"Questionable":{questionable},"Substituted":{substituted},'
        '"Annotated":false,"UnitsAbbreviation":""}'
        for good, questionable, substituted in [
            ("true", "false", "false"),
            ("false", "false", "false"),
            ("true", "true", "false"),
            ("true", "false", "true"),
        ]
    ]
)


class PiRequestError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        self.status_code = status_code
        super().__init__(message)


class PiWebApiSimulator:
    """The app (`.app`, wrapped in fault injection) and the switches a test turns."""

    def __init__(
        self,
        source: PointSource,
        *,
        server_name: str = "PISRV01",
        max_returned_items_per_call: int = PI_MAX_RETURNED_ITEMS_PER_CALL,
        limit_in_error: bool = True,
        switches: FaultSwitches | None = None,
        login: HistorianLogin | None = None,
    ) -> None:
        self.source = source
        self.server_name = server_name
        self.max_returned_items_per_call = max_returned_items_per_call
        self.limit_in_error = limit_in_error
        self.switches = switches or FaultSwitches()
        self.login = login or HistorianLogin()
        self.failing_tags: set[str] = set()
        self._tag_by_web_id = {self.web_id(tag): tag for tag in source.tags()}
        routes = [
            Route("/piwebapi/points", self._point),
            Route("/piwebapi/points/multiple", self._points_multiple),
            Route("/piwebapi/streams/{web_id}/recorded", self._recorded),
            Route("/piwebapi/streams/{web_id}/interpolated", self._interpolated),
            Route("/piwebapi/streamsets/recorded", self._streamset_recorded),
        ]
        self.app = FaultInjectionMiddleware(Starlette(routes=routes), self.switches)

    def web_id(self, tag: str) -> str:
        return stable_id("P1DP", f"{self.server_name}\\{tag}")

    def path(self, tag: str) -> str:
        return f"\\\\{self.server_name}\\{tag}"

    # Routes.
    async def _point(self, request: Request) -> Response:
        return await _answer(request, self.login, lambda: self._point_body(request.query_params["path"]))

    async def _points_multiple(self, request: Request) -> Response:
        def body() -> bytes:
            items = [self._multiple_item(path) for path in request.query_params.getlist("path")]
            return orjson.dumps({"Items": items, "Links": {}})

        return await _answer(request, self.login, body)

    async def _recorded(self, request: Request) -> Response:
        def body() -> bytes:
            tag = self._tag(request.path_params["web_id"])
            values = self._recorded_values(tag, request)
            return b"".join([b'{"Links":{},"Items":[', values, b'],"UnitsAbbreviation":""}'])

        return await _answer(request, self.login, body)

    async def _streamset_recorded(self, request: Request) -> Response:
        def body() -> bytes:
            return self._streamset_body(request)

        return await _answer(request, self.login, body)

    async def _interpolated(self, request: Request) -> Response:
        def body() -> bytes:
            tag = self._tag(request.path_params["web_id"])
            values = self._interpolated_values(tag, request)
            return b"".join([b'{"Links":{},"Items":[', values, b'],"UnitsAbbreviation":""}'])

        return await _answer(request, self.login, body)

    # Bodies.
    def _point_body(self, path: str) -> bytes:
        tag = self._tag_of_path(path)
        if tag is None:
            raise PiRequestError(404, f"PI Point not found '{path}'.")
        return orjson.dumps(self._point_object(tag))

    def _multiple_item(self, path: str) -> dict[str, object]:
        tag = self._tag_of_path(path)
        item: dict[str, object] = {"Identifier": path, "IdentifierType": "Path"}
        if tag is None:
            item["Exception"] = {"StatusCode": 404, "Errors": [f"PI Point not found '{path}'."]}
        else:
            item["Object"] = self._point_object(tag)
        return item

    def _point_object(self, tag: str) -> dict[str, object]:
        web_id = self.web_id(tag)
        return {
            "WebId": web_id,
            "Name": tag,
            "Path": self.path(tag),
            "PointClass": "classic",
            "PointType": "Float64",
            "EngineeringUnits": "",
            "Step": False,
            "Links": {"RecordedData": f"/piwebapi/streams/{web_id}/recorded"},
        }

    def _streamset_body(self, request: Request) -> bytes:
        """The whole streamset response, its parts copied once into the body."""
        parts: list[bytes | pa.Buffer] = [b'{"Links":{},"Items":[']
        for index, web_id in enumerate(request.query_params.getlist("webId")):
            if index:
                parts.append(b",")
            parts += self._streamset_parts(web_id, request)
        parts.append(b"]}")
        return b"".join(parts)

    def _streamset_item(self, web_id: str, request: Request) -> bytes:
        return b"".join(self._streamset_parts(web_id, request))

    def _streamset_parts(self, web_id: str, request: Request) -> list[bytes | pa.Buffer]:
        tag = self._tag_by_web_id.get(web_id)
        head: dict[str, object] = {"WebId": web_id, "Name": tag, "Path": self.path(tag) if tag else None}
        head["Links"] = {}
        if tag is None or tag in self.failing_tags:
            status = 404 if tag is None else 502
            reason = "Unknown or invalid WebID." if tag is None else "PI Data Archive connection lost."
            head |= {"Items": [], "WebException": {"StatusCode": status, "Errors": [reason]}}
            return [orjson.dumps(head)]
        values = self._recorded_values(tag, request)
        return [orjson.dumps(head)[:-1], b',"Items":[', values, b'],"UnitsAbbreviation":""}']

    def _recorded_values(self, tag: str, request: Request) -> pa.Buffer:
        start, end = _time_param(request, "startTime"), _time_param(request, "endTime")
        max_count = _int_param(request, "maxCount", DEFAULT_MAX_COUNT)
        self._check_count("maxCount", max_count)
        return wire_values_buffer(self.source.first_points(tag, start, end + INCLUSIVE_END, max_count))

    def _interpolated_values(self, tag: str, request: Request) -> pa.Buffer:
        start, end = _time_param(request, "startTime"), _time_param(request, "endTime")
        interval_us = _interval_micros(request.query_params.get("interval", "1h"))
        start_us, end_us = to_micros(start), to_micros(end)
        self._check_count("the number of interpolated values", (end_us - start_us) // interval_us + 1)
        grid = np.arange(start_us, end_us + 1, interval_us, dtype=np.int64)
        known = self.source.points(tag, start - timedelta(days=1), end + timedelta(days=1))
        return wire_values_buffer(interpolate(known, grid))

    def _check_count(self, name: str, count: int) -> None:
        if count > self.max_returned_items_per_call:
            limit = f" ({self.max_returned_items_per_call})" if self.limit_in_error else ""
            raise PiRequestError(400, f"Parameter '{name}' is greater than the maximum allowed{limit}.")

    def _tag(self, web_id: str) -> str:
        tag = self._tag_by_web_id.get(web_id)
        if tag is None:
            raise PiRequestError(404, "Unknown or invalid WebID.")
        return tag

    def _tag_of_path(self, path: str) -> str | None:
        prefix = f"\\\\{self.server_name}\\"
        if not path.upper().startswith(prefix.upper()):
            return None
        tag = path[len(prefix) :]
        return tag if self.web_id(tag) in self._tag_by_web_id else None


async def _answer(request: Request, login: HistorianLogin, build: Callable[[], bytes]) -> Response:
    if not login.accepts(request):
        return Response(
            orjson.dumps({"Errors": ["Authorization has been denied."]}), 401, media_type="application/json"
        )
    try:
        body = await run_in_threadpool(build)
    except PiRequestError as exc:
        return Response(orjson.dumps({"Errors": [str(exc)]}), exc.status_code, media_type="application/json")
    return Response(body, media_type="application/json")


def wire_values(points: PointArrays) -> bytes:
    """The `Items` of a values response: Timestamp, Value (number, digital state or error), flags."""
    return wire_values_buffer(points).to_pybytes()


def wire_values_buffer(points: PointArrays) -> pa.Buffer:
    """`wire_values` as a view, not yet copied into `bytes`."""
    quality_class = np.select([points.quality == 0, points.quality == 50, points.quality == 75], [1, 2, 3], 0)
    flags = pc.take(QUALITY_FLAGS, pa.array(quality_class.astype(np.int8)))
    head = iso_timestamps(points.ts_us, before='{"Timestamp":"', after='","Value":')
    return joined_json_buffer([head, _values(points), flags])


def _values(points: PointArrays) -> pa.Array:
    numbers = json_numbers(points.value)
    if points.text_value is None:
        return numbers
    # A state or an error object only where a reading has a name or is bad (a few in thousands):
    # those few are written one by one, every other reading keeps its number.
    names = points.text_value
    bad = points.quality == 0
    special = np.flatnonzero(bad | pc.is_valid(pa.array(names, pa.string())).to_numpy(zero_copy_only=False))
    if len(special) == 0:
        return numbers
    texts = [_state_text(names[index], bool(bad[index]), numbers[index].as_py()) for index in special]
    mask = np.zeros(len(numbers), dtype=bool)
    mask[special] = True
    return pc.replace_with_mask(numbers, pa.array(mask), pa.array(texts, pa.string()))


def _state_text(name: str | None, bad: bool, number: str) -> str:
    """The `Value` of one reading with a state name or bad quality: a state object or an error."""
    if name is None:
        return '{"Errors":["Value is bad; no system state recorded."]}'
    value = str(SYSTEM_STATE_VALUES.get(name, 307) if name else 0) if bad else number
    is_system = "true" if bad else "false"
    return f'{{"Name":{orjson.dumps(name).decode()},"Value":{value},"IsSystem":{is_system}}}'


def interpolate(points: PointArrays, grid_us: np.ndarray) -> PointArrays:
    """PI-style interpolation: linear for numbers, the previous state for text; `No Data` outside."""
    usable = points.quality > 0
    ts, values = points.ts_us[usable], points.value[usable]
    if len(ts) == 0:
        no_data = np.ones(len(grid_us), bool)
        return _with_no_data(
            PointArrays(grid_us, np.zeros(len(grid_us)), np.zeros(len(grid_us), np.int16)), no_data
        )
    outside = (grid_us < ts[0]) | (grid_us > ts[-1])
    quality = np.where(outside, 0, 100).astype(np.int16)
    if points.text_value is None:
        return _with_no_data(PointArrays(grid_us, np.interp(grid_us, ts, values), quality), outside)
    previous = np.clip(np.searchsorted(ts, grid_us, side="right") - 1, 0, None)
    text = points.text_value[usable][previous]
    return _with_no_data(PointArrays(grid_us, values[previous], quality, text), outside)


def _with_no_data(points: PointArrays, outside: np.ndarray) -> PointArrays:
    if not outside.any():
        return points
    text = points.text_value if points.text_value is not None else np.full(len(points), None, object)
    text = text.copy()
    text[outside] = "No Data"
    return PointArrays(points.ts_us, points.value, points.quality, text)


def _time_param(request: Request, name: str) -> datetime:
    text = request.query_params.get(name)
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        raise PiRequestError(400, f"Parameter '{name}' is not a valid time: {text!r}.") from None
    if moment.tzinfo is None:
        raise PiRequestError(400, f"Parameter '{name}' must carry a time zone: {text!r}.")
    return moment


def _int_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit():
        raise PiRequestError(400, f"Parameter '{name}' is not a positive integer: {text!r}.")
    return int(text)


def _interval_micros(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", text.strip())
    if not match or float(match.group(1)) <= 0:
        raise PiRequestError(400, f"Parameter 'interval' is not a valid time interval: {text!r}.")
    return int(float(match.group(1)) * INTERVAL_UNITS[match.group(2)] * 1_000_000)
