"""SAP S/4HANA over OData v2 (`system_type: sap_odata`); `base_url` ends in `/sap/opu/odata/sap`.

Reads production orders and their components (`API_PRODUCTION_ORDER_2_SRV`), the material master
(`API_PRODUCT_SRV/A_Product`) and labour costs (`ZOEE_LABOR_COST_SRV`, a customer service), and
confirms yield back (`API_PROD_ORDER_CONFIRMATION_2_SRV`) after the `x-csrf-token: Fetch` dance.
Paging follows `__next`; decimals come as strings and dates as `/Date(ms)/`. Many orders are read
from the entity set `A_ProductionOrder_2` with `$filter` keys joined by `or`, `ORDER_KEYS_PER_REQUEST`
at a time.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeGuard

import httpx
import numpy as np
import pandas as pd

from oee_pipelines.connectors.erp.base import LABOR_COST, MATERIAL, ERPConnector
from oee_pipelines.connectors.errors import SourceAuthError, SourceDataError, SourceSystemError
from oee_pipelines.connectors.http import json_answer
from oee_pipelines.connectors.mes.auth import AuthenticatedClient
from oee_pipelines.connectors.mes.base import CONSUMPTION, WORK_ORDER, order_status_of
from oee_pipelines.connectors.mes.config import SourceConnectionConfig
from oee_pipelines.connectors.mes.records import (
    Entity,
    FetchResult,
    InvalidField,
    OrderStatus,
    RejectedRecord,
    RowContext,
    build_result,
    gc_paused,
    parse_record,
    parse_timestamp,
    push_order_status,
)

SYSTEM = "sap_odata"
ORDERS = "/API_PRODUCTION_ORDER_2_SRV"
ORDER_SET = f"{ORDERS}/A_ProductionOrder_2"
CONFIRMATIONS = "/API_PROD_ORDER_CONFIRMATION_2_SRV"
CONFIRMABLE_STATUSES = ("in_progress", "completed")
# Keys per `$filter` request, and a cap on the filter's length: 40 quoted keys of ~10 characters make
# ~1.5 KB of filter, ~2.5 KB once URL-encoded, well under the 8 KB request line gateways accept.
ORDER_KEYS_PER_REQUEST = 40
MAX_FILTER_CHARS = 3000
_DURATION = re.compile(r"^PT(\d{1,2})H(\d{1,2})M(\d{1,2})S$")


class SapODataConnector(ERPConnector):
    def __init__(self, config: SourceConnectionConfig) -> None:
        self.config = config
        self._client = AuthenticatedClient(config, SYSTEM)
        self._http = self._client.http
        self._context = RowContext(config.org_id, config.id_prefix, config.system_type)
        self._csrf_token: str | None = None

    def close(self) -> None:
        self._client.close()

    def get_materials(self) -> FetchResult:
        params = {"$expand": "to_Description,to_Valuation"}
        products = self._iter_results("/API_PRODUCT_SRV/A_Product", params, "get_materials")
        return self._result((_material_record(p) for p in products), MATERIAL)

    def get_labor_costs(self, line_id: str, start_date: date, end_date: date) -> FetchResult:
        odata_filter = (
            f"ProductionLine eq {_quoted(line_id)}"
            f" and WorkDate ge datetime'{start_date.isoformat()}T00:00:00'"
            f" and WorkDate lt datetime'{end_date.isoformat()}T00:00:00'"
        )
        path = "/ZOEE_LABOR_COST_SRV/LaborCostSet"
        records = self._iter_results(path, {"$filter": odata_filter}, "get_labor_costs")
        return self._result((_labor_record(r) for r in records), LABOR_COST)

    def get_work_order(self, work_order_number: str) -> FetchResult:
        call = "get_work_order"
        body = self._json(self._request("GET", f"{ORDER_SET}({_quoted(work_order_number)})", call), call)
        order = body.get("d") if isinstance(body, Mapping) else None
        if not isinstance(order, Mapping):
            raise SourceDataError(SYSTEM, call, "expected {'d': {...}}")
        return self._result([_order_record(order)], WORK_ORDER)

    def get_work_orders(self, work_order_numbers: Sequence[str]) -> FetchResult:
        """Many production orders, `ORDER_KEYS_PER_REQUEST` keys per `$filter` request, every `__next`
        page followed; a requested number SAP does not return is rejected by its key."""
        call = "get_work_orders"
        wanted = list(dict.fromkeys(work_order_numbers))
        orders: list[Mapping[str, Any]] = []
        with gc_paused():  # 100,000 decoded orders would otherwise be traversed again and again
            for chunk in order_key_chunks(wanted):
                pages = self._iter_results(ORDER_SET, {"$filter": order_filter(chunk)}, call)
                orders += asked_orders(pages, chunk)
        return work_orders_result(orders, wanted, self._context)

    def get_inventory_consumption(self, work_order_number: str) -> FetchResult:
        params = {"$filter": f"ManufacturingOrder eq {_quoted(work_order_number)}"}
        components = self._iter_results(
            f"{ORDERS}/A_ProductionOrderComponent_4", params, "get_inventory_consumption"
        )
        return self._result((_component_record(c) for c in components), CONSUMPTION)

    def update_order_status(self, work_order_number: str, status: str, actual_quantity: int | None) -> bool:
        """Confirm yield: SAP confirmations add yield, so only the difference to what SAP holds is posted."""
        if status not in CONFIRMABLE_STATUSES:
            raise ValueError(f"SAP confirmations set {' or '.join(CONFIRMABLE_STATUSES)}, not {status!r}")
        return push_order_status(
            work_order_number, OrderStatus(status, actual_quantity), self._current_status, self._confirm
        )

    def _current_status(self, work_order_number: str) -> OrderStatus:
        return order_status_of(self.get_work_order(work_order_number), SYSTEM, work_order_number)

    def _confirm(self, work_order_number: str, wanted: OrderStatus) -> None:
        confirmed = self._current_status(work_order_number).actual_quantity or 0
        added = (wanted.actual_quantity if wanted.actual_quantity is not None else confirmed) - confirmed
        if added < 0:
            raise ValueError(
                f"order {work_order_number}: SAP holds {confirmed} confirmed, "
                f"cannot lower it to {wanted.actual_quantity}"
            )
        body = {
            "OrderID": work_order_number,
            "ConfirmationYieldQuantity": str(added),
            "FinalConfirmationType": "X" if wanted.status == "completed" else "",
        }
        self._post_with_csrf(f"{CONFIRMATIONS}/ProdnOrdConf2", body, "update_order_status")

    def _post_with_csrf(self, path: str, body: Mapping[str, Any], call: str) -> httpx.Response:
        """POST with a CSRF token; an expired token (403) is fetched again once."""
        for attempt in range(2):
            token = self._csrf_token or self._fetch_csrf_token(call)
            try:
                return self._request("POST", path, call, json=body, headers={"x-csrf-token": token})
            except SourceAuthError as exc:
                if exc.status_code != 403 or attempt == 1:
                    raise
                self._csrf_token = None
        raise AssertionError("unreachable")

    def _fetch_csrf_token(self, call: str) -> str:
        response = self._request("GET", f"{CONFIRMATIONS}/", call, headers={"x-csrf-token": "Fetch"})
        token = response.headers.get("x-csrf-token")
        if not token or token.lower() == "required":
            raise SourceDataError(SYSTEM, call, "no CSRF token in the answer to x-csrf-token: Fetch")
        self._csrf_token = token
        return token

    def _request(self, method: str, url: str, call: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, call=call, **kwargs)
        except SourceAuthError:
            raise
        except SourceSystemError as exc:
            if exc.status_code is None or exc.status_code >= 500:
                raise
            raise SourceSystemError(
                SYSTEM, call, sap_error_message(exc.reason), status_code=exc.status_code
            ) from None

    def _iter_results(self, path: str, params: Mapping[str, str], call: str) -> Iterator[Mapping[str, Any]]:
        """Every result of an entity set, following `__next` links page by page."""
        url: str | None = path
        query: Mapping[str, str] | None = {**params, "$format": "json"}
        seen: set[str] = set()
        while url is not None:
            results, next_url = page_results(
                self._json(self._request("GET", url, call, params=query), call), call
            )
            yield from results
            if next_url is not None and next_url in seen:
                raise SourceDataError(SYSTEM, call, f"__next repeats {next_url}")
            seen.add(url)
            url, query = next_url, None

    def _json(self, response: httpx.Response, call: str) -> Any:
        return decode_json(response, call)

    def _result(
        self, records: Iterator[Mapping[str, Any]] | list[dict[str, Any]], entity: Entity
    ) -> FetchResult:
        return build_result(records, entity, self._context)


def sap_error_message(body: str) -> str:
    """`code: message` from SAP's `{"error": {"code", "message": {"value"}}}`; else the body as it is."""
    try:
        error = json.loads(body)["error"]
        return f"{error['code']}: {error['message']['value']}"
    except (ValueError, KeyError, TypeError):
        return body


def order_filter(numbers: Sequence[str]) -> str:
    """`ManufacturingOrder eq '..' or ...` for a chunk of order numbers."""
    return " or ".join(f"ManufacturingOrder eq {_quoted(n)}" for n in numbers)


def asked_orders(orders: Iterable[Mapping[str, Any]], chunk: Sequence[str]) -> list[Mapping[str, Any]]:
    """The orders of one `$filter` request; one SAP returns without being asked for is an error."""
    asked = set(chunk)
    returned: list[Mapping[str, Any]] = []
    for order in orders:
        number = order.get("ManufacturingOrder")
        if number not in asked:
            raise SourceDataError(SYSTEM, "get_work_orders", f"order {number!r} returned but not asked for")
        returned.append(order)
    return returned


def work_orders_result(
    orders: Sequence[Mapping[str, Any]], wanted: Sequence[str], context: RowContext
) -> FetchResult:
    """The orders as `work_orders` rows (`WORK_ORDER`), plus a rejection for each wanted number SAP
    did not return."""
    result = order_rows(orders, context)
    returned = set(map(operator.itemgetter("ManufacturingOrder"), orders))
    if returned.issuperset(wanted):  # every order came back: one pass in C, no list built
        return FetchResult(result.frame, [*result.rejected])
    missing = [
        RejectedRecord(WORK_ORDER.name, number, WORK_ORDER.key_field, f"Order {number} does not exist")
        for number in wanted
        if number not in returned
    ]
    return FetchResult(result.frame, [*result.rejected, *missing])


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def order_key_chunks(numbers: list[str]) -> Iterator[list[str]]:
    """`numbers` in runs of at most `ORDER_KEYS_PER_REQUEST` whose `$filter` stays within
    `MAX_FILTER_CHARS`."""
    chunk: list[str] = []
    length = 0
    for number in numbers:
        term = len(f" or ManufacturingOrder eq {_quoted(number)}")
        if chunk and (len(chunk) == ORDER_KEYS_PER_REQUEST or length + term > MAX_FILTER_CHARS):
            yield chunk
            chunk, length = [], 0
        chunk.append(number)
        length += term
    if chunk:
        yield chunk


def decode_json(response: httpx.Response, call: str) -> Any:
    """The answer's JSON (msgspec where it reads as the standard decoder does)."""
    return json_answer(response, SYSTEM, call)


def page_results(body: Any, call: str) -> tuple[list[Mapping[str, Any]], str | None]:
    """A collection page's results and its `__next` link (None on the last page)."""
    d = body.get("d") if isinstance(body, Mapping) else None
    if not isinstance(d, Mapping) or not isinstance(d.get("results"), list):
        raise SourceDataError(SYSTEM, call, "expected {'d': {'results': [...]}}")
    next_url = d.get("__next")
    results = [r if isinstance(r, Mapping) else {} for r in d["results"]]
    return results, next_url if isinstance(next_url, str) else None


def sap_datetime(date_value: Any, time_value: Any) -> Any:
    """An Edm.DateTime date plus an Edm.Time `PThhHmmMssS`, as a UTC timestamp; unreadable parts are
    returned joined as text, so the record is rejected naming the field."""
    if date_value is None:
        return None
    match = _DURATION.match(time_value) if isinstance(time_value, str) else None
    try:
        day = parse_timestamp(date_value)
    except ValueError:
        return f"{date_value} {time_value}"
    if match is None:
        return f"{date_value} {time_value}"
    hours, minutes, seconds = (int(part) for part in match.groups())
    return (day + timedelta(hours=hours, minutes=minutes, seconds=seconds)).isoformat()


def _status(order: Mapping[str, Any]) -> str:
    if order.get("OrderIsDeleted"):
        return "cancelled"
    if order.get("OrderIsConfirmed"):
        return "completed"
    if order.get("OrderIsPartiallyConfirmed"):
        return "in_progress"
    return "released" if order.get("OrderIsReleased") else "planned"


def _order_record(order: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "work_order_number": order.get("ManufacturingOrder"),
        "product_id": order.get("Material"),
        "line_id": order.get("ProductionLine"),
        "recipe_id": order.get("ProductionVersion"),
        "planned_quantity": order.get("TotalQuantity"),
        "actual_quantity": order.get("MfgOrderConfirmedYieldQty"),
        "status": _status(order),
        "planned_start": sap_datetime(
            order.get("MfgOrderPlannedStartDate"), order.get("MfgOrderPlannedStartTime")
        ),
        "planned_end": sap_datetime(order.get("MfgOrderPlannedEndDate"), order.get("MfgOrderPlannedEndTime")),
    }


def _component_record(component: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "work_order_number": component.get("ManufacturingOrder"),
        "line_id": component.get("ProductionLine"),
        "material_number": component.get("Material"),
        "planned_quantity": component.get("RequiredQuantity"),
        "consumed_quantity": component.get("WithdrawnQuantity"),
        "base_unit": component.get("BaseUnit"),
    }


def _first_result(product: Mapping[str, Any], navigation: str) -> Mapping[str, Any]:
    """The first entry of an expanded navigation property (`{"results": [...]}`), or {}."""
    expanded = product.get(navigation)
    results = expanded.get("results") if isinstance(expanded, Mapping) else None
    if not isinstance(results, list) or not results or not isinstance(results[0], Mapping):
        return {}
    return results[0]


def _material_record(product: Mapping[str, Any]) -> dict[str, Any]:
    valuation = _first_result(product, "to_Valuation")
    return {
        "material_number": product.get("Product"),
        "description": _first_result(product, "to_Description").get("ProductDescription"),
        "material_type": product.get("ProductType"),
        "base_unit": product.get("BaseUnit"),
        "unit_cost": valuation.get("StandardPrice"),
        "currency": valuation.get("Currency"),
    }


def _labor_record(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "line_id": record.get("ProductionLine"),
        "cost_center": record.get("CostCenter"),
        "work_date": record.get("WorkDate"),
        "labor_hours": record.get("LaborHours"),
        "hourly_rate": record.get("HourlyRate"),
        "labor_cost": record.get("LaborCost"),
        "currency": record.get("Currency"),
    }


# The fast path of `order_rows`: only values it reads exactly as `_order_record` + `build_result` do.
_PLAIN_COUNT = re.compile(r"([0-9]{1,18})(?:\.0*)?")
_PLAIN_ODATA_DATE = re.compile(r"/Date\((-?[0-9]{1,13})\)/")
# Well inside pandas' nanosecond range (years 1677-2262), where `parse_timestamp` reads any `/Date()/`.
_MAX_ABS_MS = 9_000_000_000_000
_NS_PER_MS = 1_000_000
_NAT = np.iinfo(np.int64).min
_OrderValues = tuple[str, str, str | None, str, int, int | None, str, int, int]


def order_rows(orders: Sequence[Mapping[str, Any]], context: RowContext) -> FetchResult:
    """`build_result([_order_record(o) for o in orders], WORK_ORDER, context)`, a column at a time.

    Orders whose every field is in the plain form SAP sends (untrimmed-free text, `"1000.000"`
    quantities, `/Date(ms)/` plus `PThhHmmMssS`) are read here without a per-field parser; any
    other order goes through `parse_record` as before, so its row or its rejection is unchanged.
    """
    if not orders:
        return build_result([], WORK_ORDER, context)
    kept: list[_OrderValues] = []
    rejected: list[RejectedRecord] = []
    with gc_paused():
        for order in orders:
            values = _plain_order(order)
            if values is None:
                values = _parsed_order(order, context, rejected)
            if values is not None:
                kept.append(values)
        return FetchResult(_order_frame(kept, context), rejected)


def _plain_text(value: Any) -> TypeGuard[str]:
    return type(value) is str and value != "" and value.strip() == value


def _plain_count(value: Any) -> int | None:
    return _count_of_text(value) if type(value) is str else None


@functools.lru_cache(maxsize=65_536)
def _count_of_text(text: str) -> int | None:
    """`"1000.000"` -> 1000; None if not in that plain form. Cached: orders repeat their quantities."""
    match = _PLAIN_COUNT.fullmatch(text)
    return int(match.group(1)) if match else None


def _plain_ms(date_value: Any, time_value: Any) -> int | None:
    """Epoch milliseconds of `sap_datetime(date_value, time_value)`, or None if not plain."""
    if type(date_value) is not str or type(time_value) is not str:
        return None
    day, clock = _day_ms(date_value), _clock_ms(time_value)
    if day is None or clock is None:
        return None
    ms = day + clock
    return ms if -_MAX_ABS_MS < ms < _MAX_ABS_MS else None


@functools.lru_cache(maxsize=65_536)
def _day_ms(text: str) -> int | None:
    """`/Date(ms)/` -> ms; cached, as orders of one day share their date."""
    match = _PLAIN_ODATA_DATE.fullmatch(text)
    return int(match.group(1)) if match else None


@functools.lru_cache(maxsize=65_536)
def _clock_ms(text: str) -> int | None:
    """`PThhHmmMssS` -> ms into the day (as `sap_datetime` reads it); cached, times of day repeat."""
    match = _DURATION.match(text)
    if match is None:
        return None
    hours, minutes, seconds = (int(part) for part in match.groups())
    return ((hours * 60 + minutes) * 60 + seconds) * 1000


def _plain_order(order: Mapping[str, Any]) -> _OrderValues | None:
    """The order's values if every field is plain, else None (the caller parses it field by field)."""
    number, product, line = (
        order.get("ManufacturingOrder"),
        order.get("Material"),
        order.get("ProductionLine"),
    )
    if not (_plain_text(number) and _plain_text(product) and _plain_text(line)):
        return None
    version = order.get("ProductionVersion")
    recipe: str | None = None  # None, or blank: an optional field left empty
    if _plain_text(version):
        recipe = version
    elif version is not None and (type(version) is not str or version.strip()):
        return None
    planned = _plain_count(order.get("TotalQuantity"))
    confirmed = order.get("MfgOrderConfirmedYieldQty")
    actual = None if confirmed is None else _plain_count(confirmed)
    start = _plain_ms(order.get("MfgOrderPlannedStartDate"), order.get("MfgOrderPlannedStartTime"))
    end = _plain_ms(order.get("MfgOrderPlannedEndDate"), order.get("MfgOrderPlannedEndTime"))
    if planned is None or (confirmed is not None and actual is None) or start is None or end is None:
        return None
    if end <= start:
        return None  # `check_planned_window` rejects it, with its own words
    return (
        number,
        product,
        recipe,
        line,
        planned,
        actual,
        _status(order),
        start * _NS_PER_MS,
        end * _NS_PER_MS,
    )


def _parsed_order(
    order: Mapping[str, Any], context: RowContext, rejected: list[RejectedRecord]
) -> _OrderValues | None:
    """The slow path: `parse_record` field by field; a bad order is added to `rejected`."""
    record = _order_record(order)
    try:
        row = WORK_ORDER.to_row(parse_record(record, WORK_ORDER), context)
    except InvalidField as exc:
        key = record.get(WORK_ORDER.key_field)
        rejected.append(RejectedRecord(WORK_ORDER.name, str(key), exc.field_name, exc.reason))
        return None
    return (
        row["wo_number"], row["product_id"], row["recipe_id"], row["line_id"], row["planned_quantity"],
        row["actual_quantity"], row["status"], row["planned_start"].value, row["planned_end"].value,
    )  # fmt: skip


def _utc_column(nanoseconds: Sequence[int] | np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(nanoseconds, dtype=np.int64).view("datetime64[ns]")).tz_localize("UTC")


def _order_frame(kept: list[_OrderValues], context: RowContext) -> pd.DataFrame:
    """The `work_orders` frame of `WORK_ORDER`, with its dtypes, from the orders' values."""
    count = len(kept)
    if not count:
        return build_result([], WORK_ORDER, context).frame
    numbers, products, recipes, lines, planned, actual, statuses, starts, ends = (
        list(c) for c in zip(*kept, strict=True)
    )
    never = np.full(count, _NAT, dtype=np.int64)
    columns = {
        "id": _objects([f"{context.id_prefix}{number}" for number in numbers]),
        "org_id": _repeated(context.org_id, count),
        "wo_number": _objects(numbers),
        "product_id": _objects(products),
        "recipe_id": _objects(recipes),
        "line_id": _objects(lines),
        "planned_quantity": np.asarray(planned, dtype=np.int64),
        "actual_quantity": pd.array(actual, dtype="Int64"),
        "status": _objects(statuses),
        "planned_start": _utc_column(starts),
        "planned_end": _utc_column(ends),
        "actual_start": _utc_column(never),
        "actual_end": _utc_column(never),
        "source_system": _repeated(context.source_system, count),
    }
    return pd.DataFrame({name: columns[name] for name in WORK_ORDER.columns})


def _objects(values: Sequence[Any]) -> np.ndarray:
    """Text (or None) values as the object column pandas would make of the list, without pandas
    inspecting every value for another type first (it would find none: text stays object)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _repeated(value: Any, count: int) -> np.ndarray:
    column = np.empty(count, dtype=object)
    column[:] = value
    return column
