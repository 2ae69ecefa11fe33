"""AVEVA (Wonderware) Historian REST client (OData v4, `Historian/v2`): process values and summaries.

One query per tag, `$filter=FQN eq 'X' and DateTime ge <start> and DateTime lt <end>` (v2 puts no
quotes around times), following `@odata.nextLink` until the server has nothing more; tags are
fetched `concurrency` at a time. OPC DA quality -> 0-100 by its quality bits: good (192-255,
e.g. 192, 216) -> 100, uncertain (64-127) -> 50, bad (0-63) -> 0. `Text` (the state name of a
discrete or string tag) becomes `text_value`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec
import numpy as np
import pyarrow as pa

from oee_pipelines.connectors.historian.points import (
    HistorianCredentials,
    Page,
    decode_json,
    parse_wire_times,
    points_table,
    run_pages,
    wire_time,
)
from oee_pipelines.connectors.http import RetryingHttpClient, RetryPolicy

SYSTEM = "aveva"
OPC_QUALITY_MASK = 0xC0
OPC_GOOD, OPC_UNCERTAIN = 0xC0, 0x40


class ProcessValue(msgspec.Struct):
    DateTime: str
    OpcQuality: int = 0
    Value: float | None = None
    Text: str | None = None


class AnalogSummaryRow(msgspec.Struct):
    StartDateTime: str
    OpcQuality: int = 0
    Average: float | None = None


class ProcessValuesPage(msgspec.Struct):
    value: list[ProcessValue]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


class AnalogSummaryPage(msgspec.Struct):
    value: list[AnalogSummaryRow]
    next_link: str | None = msgspec.field(default=None, name="@odata.nextLink")


@dataclass(frozen=True)
class ODataRequest:
    tag: str
    entity: str
    params: tuple[tuple[str, str], ...] | None  # None: follow `url`, an @odata.nextLink
    url: str = ""


class AvevaHistorianClient:
    """One AVEVA Historian REST endpoint; `base_url` is the server root (e.g. `http://host:32569`)."""

    def __init__(
        self,
        base_url: str,
        credentials: HistorianCredentials,
        *,
        concurrency: int = 4,
        policy: RetryPolicy | None = None,
        verify: bool | str = True,
    ) -> None:
        self.concurrency = concurrency
        self._http = RetryingHttpClient(
            SYSTEM,
            base_url.rstrip("/") + "/",
            policy=policy,
            auth=credentials.httpx_auth(),
            headers=credentials.headers(),
            verify=verify,
        )
        self._values_decoder = msgspec.json.Decoder(ProcessValuesPage)
        self._summary_decoder = msgspec.json.Decoder(AnalogSummaryPage)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AvevaHistorianClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def page_limit(self) -> None:
        """The server pages (`@odata.nextLink`): no count is asked for."""
        return None

    @property
    def page_limit_reason(self) -> None:
        return None

    def read_points(self, tags: Sequence[str], start: datetime, end: datetime) -> Iterator[pa.Table]:
        """`HistorianClient.read_points`: the stored process values (`read_process_values`)."""
        return self.read_process_values(tags, start, end)

    def read_process_values(self, tags: Sequence[str], start: datetime, end: datetime) -> Iterator[pa.Table]:
        """Stored values with start <= ts < end, one raw point table per page."""
        time_filter = f"DateTime ge {wire_time(start)} and DateTime lt {wire_time(end)}"
        first = [
            ODataRequest(tag, "ProcessValues", (("$filter", f"{_fqn_clause(tag)} and {time_filter}"),))
            for tag in tags
        ]
        return run_pages(first, self._page, self.concurrency)

    def read_analog_summary(
        self, tags: Sequence[str], start: datetime, end: datetime, resolution: timedelta
    ) -> Iterator[pa.Table]:
        """Interval averages as raw points: `ts` = interval start, `value` = its Average."""
        time_filter = f"StartDateTime ge {wire_time(start)} and EndDateTime le {wire_time(end)}"
        resolution_ms = str(int(resolution / timedelta(milliseconds=1)))
        first = [
            ODataRequest(
                tag,
                "AnalogSummary",
                (("$filter", f"{_fqn_clause(tag)} and {time_filter}"), ("Resolution", resolution_ms)),
            )
            for tag in tags
        ]
        return run_pages(first, self._page, self.concurrency)

    def _page(self, request: ODataRequest) -> Page[ODataRequest]:
        call = f"{request.entity} of {request.tag}" + (" (next page)" if request.params is None else "")
        if request.params is None:
            response = self._http.get(request.url, call=call)
        else:
            response = self._http.get(f"Historian/v2/{request.entity}", params=request.params, call=call)
        if request.entity == "ProcessValues":
            values = decode_json(self._values_decoder, response.content, SYSTEM, call)
            columns = _Columns.of_values(values.value)
            next_link = values.next_link
        else:
            summary = decode_json(self._summary_decoder, response.content, SYSTEM, call)
            columns = _Columns.of_summary(summary.value)
            next_link = summary.next_link
        table = points_table(
            [request.tag],
            np.zeros(len(columns.times), np.int32),
            parse_wire_times(columns.times),
            np.array(columns.numbers, dtype=np.float64),
            columns.texts,
            opc_to_quality(np.array(columns.opc_quality, dtype=np.int64)),
        )
        follow = [ODataRequest(request.tag, request.entity, None, next_link)] if next_link else []
        return Page(table, follow)


@dataclass(frozen=True)
class _Columns:
    times: list[str]
    numbers: list[float | None]
    texts: list[str | None] | None
    opc_quality: list[int]

    @staticmethod
    def of_values(rows: list[ProcessValue]) -> _Columns:
        return _Columns(
            [row.DateTime for row in rows],
            [row.Value for row in rows],
            [row.Text for row in rows],
            [row.OpcQuality for row in rows],
        )

    @staticmethod
    def of_summary(rows: list[AnalogSummaryRow]) -> _Columns:
        return _Columns(
            [row.StartDateTime for row in rows],
            [row.Average for row in rows],
            None,
            [row.OpcQuality for row in rows],
        )


def opc_to_quality(opc: np.ndarray) -> np.ndarray:
    """OPC DA quality codes -> 0-100 (good 100, uncertain 50, bad 0) by the two quality bits."""
    bits = opc & OPC_QUALITY_MASK
    return np.select([bits == OPC_GOOD, bits == OPC_UNCERTAIN], [100, 50], 0).astype(np.int16)


def _fqn_clause(tag: str) -> str:
    return "FQN eq '" + tag.replace("'", "''") + "'"
