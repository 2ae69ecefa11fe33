"""MES over a custom JSON REST API (`system_type: custom_rest`).

Endpoints (relative to `base_url`): `GET /api/v1/lines/{line}/schedules?start&end&offset&limit`,
`GET /api/v1/work-orders/{number}`, `GET /api/v1/recipes/{id}`,
`PUT /api/v1/work-orders/{number}/status`, `GET /api/v1/work-orders/{number}/consumption`,
`GET /api/v1/operator-assignments?start&end&offset&limit`.
Lists come as `{"items": [...], "next_offset": n | null}`; field names follow `field_mappings`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pandas as pd

from oee_pipelines.connectors.errors import SourceDataError, SourceSystemError
from oee_pipelines.connectors.http import json_answer
from oee_pipelines.connectors.mes.auth import AuthenticatedClient
from oee_pipelines.connectors.mes.base import (
    CONSUMPTION,
    OPERATOR_ASSIGNMENT,
    RECIPE,
    SCHEDULE,
    WORK_ORDER,
    WORK_ORDER_COLUMNS,
    MESConnector,
    order_status_of,
)
from oee_pipelines.connectors.mes.config import SourceConnectionConfig
from oee_pipelines.connectors.mes.records import (
    Entity,
    FetchResult,
    OrderStatus,
    RejectedRecord,
    RowContext,
    build_result,
    is_not_found,
    push_order_status,
    rename_fields,
)

SYSTEM = "mes_rest"
API = "/api/v1"


class RestMESConnector(MESConnector):
    def __init__(self, config: SourceConnectionConfig) -> None:
        self.config = config
        self._client = AuthenticatedClient(config, SYSTEM)
        self._http = self._client.http
        self._context = RowContext(config.org_id, config.id_prefix, config.system_type)

    def close(self) -> None:
        self._client.close()

    def get_production_schedules(self, line_id: str, start: datetime, end: datetime) -> FetchResult:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        records = self._iter_items(f"{API}/lines/{line_id}/schedules", params, "get_production_schedules")
        return self._result(records, SCHEDULE)

    def get_work_order(self, work_order_number: str) -> FetchResult:
        record = self._get_object(f"{API}/work-orders/{work_order_number}", "get_work_order")
        return self._result([record], WORK_ORDER)

    def get_work_orders(self, work_order_numbers: Sequence[str], *, parallel: int) -> FetchResult:
        """Many work orders, one GET each, `parallel` at a time, read into one frame; a number the MES
        answers 404 for is rejected by its key, in its place among the others' rejections."""
        if not work_order_numbers:
            return FetchResult(pd.DataFrame(columns=list(WORK_ORDER_COLUMNS)))

        def fetch(number: str) -> Mapping[str, Any] | RejectedRecord:
            try:
                return self._get_object(f"{API}/work-orders/{number}", "get_work_order")
            except SourceSystemError as error:
                if not is_not_found(error):
                    raise
                return RejectedRecord(WORK_ORDER.name, number, WORK_ORDER.key_field, error.reason)

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            records = list(pool.map(fetch, work_order_numbers))
        renamed = [
            r if isinstance(r, RejectedRecord) else rename_fields(r, self.config.field_mappings)
            for r in records
        ]
        result = build_result(renamed, WORK_ORDER, self._context)
        if result.frame.empty and isinstance(records[0], RejectedRecord):
            # As when each order was its own frame: with no order read, the first (not found) sets the shape.
            return FetchResult(pd.DataFrame(), result.rejected)
        return result

    def download_recipe(self, recipe_id: str) -> FetchResult:
        return self._result([self._get_object(f"{API}/recipes/{recipe_id}", "download_recipe")], RECIPE)

    def get_material_consumption(self, line_id: str, work_order_number: str) -> FetchResult:
        path = f"{API}/work-orders/{work_order_number}/consumption"
        records = self._iter_items(path, {"line_id": line_id}, "get_material_consumption")
        return self._result(records, CONSUMPTION)

    def get_operator_assignments(self, start: datetime, end: datetime) -> FetchResult:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        records = self._iter_items(f"{API}/operator-assignments", params, "get_operator_assignments")
        return self._result(records, OPERATOR_ASSIGNMENT)

    def update_order_status(self, work_order_number: str, status: str, actual_quantity: int | None) -> bool:
        wanted = OrderStatus(status, actual_quantity)
        return push_order_status(work_order_number, wanted, self._current_status, self._send_status)

    def _current_status(self, work_order_number: str) -> OrderStatus:
        return order_status_of(self.get_work_order(work_order_number), SYSTEM, work_order_number)

    def _send_status(self, work_order_number: str, wanted: OrderStatus) -> None:
        body = self._to_source_names({"status": wanted.status, "actual_quantity": wanted.actual_quantity})
        self._http.request(
            "PUT", f"{API}/work-orders/{work_order_number}/status", call="update_order_status", json=body
        )

    def _result(
        self, records: Iterator[Mapping[str, Any]] | list[Mapping[str, Any]], entity: Entity
    ) -> FetchResult:
        renamed = (rename_fields(record, self.config.field_mappings) for record in records)
        return build_result(renamed, entity, self._context)

    def _to_source_names(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {self.config.field_mappings.get(name, name): value for name, value in record.items()}

    def _get_object(self, path: str, call: str) -> Mapping[str, Any]:
        body = _json(self._http.get(path, call=call), call)
        if not isinstance(body, Mapping):
            raise SourceDataError(SYSTEM, call, f"expected a JSON object, got {type(body).__name__}")
        return body

    def _iter_items(self, path: str, params: Mapping[str, Any], call: str) -> Iterator[Mapping[str, Any]]:
        """Follow `next_offset` page by page; yields the records of every page."""
        offset: int | None = 0
        while offset is not None:
            page_params = {**params, "offset": offset, "limit": self.config.page_size}
            page = _json(self._http.get(path, call=call, params=page_params), call)
            items, next_offset = _page_parts(page, call)
            yield from items
            if next_offset is not None and next_offset <= offset:
                raise SourceDataError(
                    SYSTEM, call, f"paging does not advance (offset {offset} -> {next_offset})"
                )
            offset = next_offset


def _json(response: httpx.Response, call: str) -> Any:
    return json_answer(response, SYSTEM, call)


def _page_parts(page: Any, call: str) -> tuple[list[Mapping[str, Any]], int | None]:
    items = page.get("items") if isinstance(page, Mapping) else None
    next_offset = page.get("next_offset") if isinstance(page, Mapping) else None
    if not isinstance(items, list) or not (next_offset is None or isinstance(next_offset, int)):
        raise SourceDataError(SYSTEM, call, "expected {'items': [...], 'next_offset': int | null}")
    # A non-object item becomes an empty record, so it is rejected and counted, not dropped.
    return [item if isinstance(item, Mapping) else {} for item in items], next_offset
