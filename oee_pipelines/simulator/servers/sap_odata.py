"""SAP S/4HANA OData v2 services over `SourceData`, in the shapes the real APIs use.

Under `/sap/opu/odata/sap`: `API_PRODUCTION_ORDER_2_SRV/A_ProductionOrder_2('<order>')`, the entity
set `A_ProductionOrder_2?$filter=ManufacturingOrder eq '<order>' or ManufacturingOrder eq '<order>'`,
`API_PRODUCTION_ORDER_2_SRV/A_ProductionOrderComponent_4?$filter=ManufacturingOrder eq '<order>'`,
`API_PRODUCT_SRV/A_Product` (with `to_Description` and `to_Valuation` inline),
`ZOEE_LABOR_COST_SRV/LaborCostSet?$filter=ProductionLine eq '..' and WorkDate ge datetime'..'`, and
`POST API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2` (yield confirmation, needs a CSRF token
fetched with `x-csrf-token: Fetch` on the service root). Lists are `{"d": {"results": [...],
"__next": ...}}` paged with `$skiptoken`; decimals are strings; dates are `/Date(ms)/`;
errors are `{"error": {"code", "message": {"lang", "value"}}}`. Basic auth.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches
from oee_pipelines.simulator.servers.source_data import Record, SourceData, int_param, page_of

ROOT = "/sap/opu/odata/sap"
ORDERS = f"{ROOT}/API_PRODUCTION_ORDER_2_SRV"
_FILTER_TERM = re.compile(r"^(\w+) (eq|ge|lt) (?:datetime)?'([^']*)'$")
_ORDER_KEY = r"ManufacturingOrder eq '((?:[^']|'')*)'"
_ORDER_KEYS = re.compile(rf"{_ORDER_KEY}(?: or {_ORDER_KEY})*")


@dataclass(frozen=True)
class SapCredentials:
    username: str = "sap-user"
    password: str = "sap-password"


class SapODataError(Exception):
    def __init__(self, status_code: int, code: str, message: str) -> None:
        self.status_code = status_code
        self.code = code
        self.message = message
        super().__init__(message)


class SapODataSimulator:
    """The app (`.app`, wrapped in fault injection); `confirmations` counts accepted POSTs."""

    def __init__(
        self,
        source: SourceData,
        *,
        switches: FaultSwitches | None = None,
        credentials: SapCredentials | None = None,
        max_page_size: int = 100,
    ) -> None:
        self.source = source
        self.switches = switches or FaultSwitches()
        self.credentials = credentials or SapCredentials()
        self.max_page_size = max_page_size
        self.confirmations: list[dict[str, Any]] = []
        self._csrf_tokens: set[str] = set()
        self._lock = threading.Lock()
        routes = [
            Route(f"{ORDERS}/A_ProductionOrder_2('{{order}}')", self._guarded(self._order)),
            Route(f"{ORDERS}/A_ProductionOrder_2", self._guarded(self._orders)),
            Route(f"{ORDERS}/A_ProductionOrderComponent_4", self._guarded(self._components)),
            Route(f"{ROOT}/API_PRODUCT_SRV/A_Product", self._guarded(self._products)),
            Route(f"{ROOT}/ZOEE_LABOR_COST_SRV/LaborCostSet", self._guarded(self._labor_costs)),
            Route(f"{ROOT}/API_PROD_ORDER_CONFIRMATION_2_SRV/", self._guarded(self._service_root)),
            Route(
                f"{ROOT}/API_PROD_ORDER_CONFIRMATION_2_SRV/ProdnOrdConf2",
                self._guarded(self._confirm),
                methods=["POST"],
            ),
        ]
        self.app = FaultInjectionMiddleware(Starlette(routes=routes), self.switches)

    def expire_csrf_tokens(self) -> None:
        with self._lock:
            self._csrf_tokens.clear()

    def _guarded(self, handler: Any) -> Any:
        """Basic auth, then the handler; a `SapODataError` becomes SAP's error body."""

        async def endpoint(request: Request) -> Response:
            expected = f"{self.credentials.username}:{self.credentials.password}".encode()
            if request.headers.get("Authorization") != "Basic " + base64.b64encode(expected).decode():
                return PlainTextResponse("Logon failed", status_code=401)
            try:
                return await handler(request)
            except SapODataError as exc:
                body = {"error": {"code": exc.code, "message": {"lang": "en", "value": exc.message}}}
                return JSONResponse(body, status_code=exc.status_code)

        return endpoint

    async def _service_root(self, request: Request) -> Response:
        headers = {}
        if request.headers.get("x-csrf-token", "").lower() == "fetch":
            token = secrets.token_urlsafe(12)
            with self._lock:
                self._csrf_tokens.add(token)
            headers["x-csrf-token"] = token
        return JSONResponse({"d": {"EntitySets": ["ProdnOrdConf2"]}}, headers=headers)

    async def _order(self, request: Request) -> Response:
        number = request.path_params["order"]
        order = self.source.work_order(number)
        if order is None:
            raise SapODataError(404, "CO/017", f"Order {number} does not exist")
        return JSONResponse({"d": _production_order(order)})

    async def _orders(self, request: Request) -> Response:
        """The entity set: every order, or those named by `ManufacturingOrder eq '..'` terms joined by
        `or` (in the order asked, each once; unknown numbers are simply absent)."""
        text = request.query_params.get("$filter")
        if text is None:
            orders = list(self.source.work_orders)
        else:
            numbers = _order_keys(text)
            found = (self.source.work_order(number) for number in dict.fromkeys(numbers))
            orders = [order for order in found if order is not None]
        return self._collection(request, [_production_order(order) for order in orders])

    async def _components(self, request: Request) -> Response:
        number = _filters(request).get(("ManufacturingOrder", "eq"), "")
        return self._collection(request, [_component(c) for c in self.source.consumption_of(number)])

    async def _products(self, request: Request) -> Response:
        return self._collection(request, [_product(m) for m in self.source.materials])

    async def _labor_costs(self, request: Request) -> Response:
        filters = _filters(request)
        start = _filter_date(filters, ("WorkDate", "ge"), date.min)
        end = _filter_date(filters, ("WorkDate", "lt"), date.max)
        records = self.source.labor_costs_of_line(filters.get(("ProductionLine", "eq"), ""), start, end)
        return self._collection(request, [_labor_cost(r) for r in records])

    async def _confirm(self, request: Request) -> Response:
        with self._lock:
            token_ok = request.headers.get("x-csrf-token") in self._csrf_tokens
        if not token_ok:
            return PlainTextResponse(
                "CSRF token validation failed", status_code=403, headers={"x-csrf-token": "Required"}
            )
        body = await request.json()
        number = str(body.get("OrderID", ""))
        order = self.source.work_order(number)
        if order is None:
            raise SapODataError(400, "RU/100", f"Order {number} does not exist")
        try:
            added = Decimal(str(body.get("ConfirmationYieldQuantity", "0")))
        except InvalidOperation:
            raise SapODataError(400, "RU/101", "ConfirmationYieldQuantity is not a number") from None
        confirmed = int((order.get("actual_quantity") or 0) + added)
        status = "completed" if body.get("FinalConfirmationType") == "X" else "in_progress"
        self.source.apply_status_update(number, status, confirmed)
        with self._lock:
            self.confirmations.append(dict(body))
        return JSONResponse({"d": {**body, "MfgOrderConfirmedYieldQty": str(confirmed)}}, status_code=201)

    def _collection(self, request: Request, results: list[dict[str, Any]]) -> Response:
        offset = int_param(request, "$skiptoken", 0)
        page, next_offset = page_of(results, offset, self.max_page_size)
        body: dict[str, Any] = {"results": page}
        if next_offset is not None:
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "$skiptoken"]
            body["__next"] = str(
                request.url.replace_query_params(**dict(query), **{"$skiptoken": next_offset})
            )
        return JSONResponse({"d": body})


def _filters(request: Request) -> dict[tuple[str, str], str]:
    """`$filter` terms joined by `and`, as {(property, operator): value}."""
    text = request.query_params.get("$filter", "")
    terms: dict[tuple[str, str], str] = {}
    for term in filter(None, (t.strip() for t in text.split(" and "))):
        match = _FILTER_TERM.match(term)
        if match is None:
            raise SapODataError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid filter expression: {term}")
        terms[(match.group(1), match.group(2))] = match.group(3)
    return terms


def _order_keys(text: str) -> list[str]:
    """The order numbers of `ManufacturingOrder eq '..' or ManufacturingOrder eq '..'`; any other
    filter is refused as SAP Gateway does."""
    if _ORDER_KEYS.fullmatch(text.strip()) is None:
        raise SapODataError(400, "/IWBEP/CM_MGW_RT/022", f"Invalid filter expression: {text}")
    return [value.replace("''", "'") for value in re.findall(_ORDER_KEY, text)]


def _filter_date(filters: dict[tuple[str, str], str], key: tuple[str, str], default: date) -> date:
    value = filters.get(key)
    return datetime.fromisoformat(value).date() if value else default


def odata_date(value: Any) -> Any:
    """`/Date(ms)/` for dates and times; anything else (a malformed test record) is passed as it is."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return f"/Date({int(stamp.timestamp() * 1000)})/"
    if isinstance(value, date):
        return odata_date(datetime.combine(value, time(0), tzinfo=UTC))
    return value


def odata_time(value: Any) -> Any:
    if isinstance(value, datetime):
        utc = value.astimezone(UTC) if value.tzinfo else value
        return f"PT{utc.hour:02d}H{utc.minute:02d}M{utc.second:02d}S"
    return value


def decimal_text(value: Any, places: int = 3) -> Any:
    return f"{value:.{places}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _status_flags(status: Any) -> dict[str, bool]:
    return {
        "OrderIsReleased": status in ("released", "in_progress", "completed"),
        "OrderIsPartiallyConfirmed": status == "in_progress",
        "OrderIsConfirmed": status == "completed",
        "OrderIsDeleted": status == "cancelled",
    }


def _production_order(order: Record) -> dict[str, Any]:
    start, end = order.get("planned_start"), order.get("planned_end")
    return {
        "__metadata": {"type": "API_PRODUCTION_ORDER_2_SRV.A_ProductionOrder_2Type"},
        "ManufacturingOrder": order.get("work_order_number"),
        "Material": order.get("product_id"),
        "ProductionLine": order.get("line_id"),
        "ProductionVersion": order.get("recipe_id"),
        "TotalQuantity": decimal_text(order.get("planned_quantity")),
        "MfgOrderConfirmedYieldQty": decimal_text(order.get("actual_quantity") or 0),
        "ProductionUnit": "PC",
        "MfgOrderPlannedStartDate": odata_date(start.date() if isinstance(start, datetime) else start),
        "MfgOrderPlannedStartTime": odata_time(start),
        "MfgOrderPlannedEndDate": odata_date(end.date() if isinstance(end, datetime) else end),
        "MfgOrderPlannedEndTime": odata_time(end),
        **_status_flags(order.get("status")),
    }


def _component(record: Record) -> dict[str, Any]:
    return {
        "ManufacturingOrder": record.get("work_order_number"),
        "ProductionLine": record.get("line_id"),
        "Material": record.get("material_number"),
        "RequiredQuantity": decimal_text(record.get("planned_quantity")),
        "WithdrawnQuantity": decimal_text(record.get("consumed_quantity")),
        "BaseUnit": record.get("base_unit"),
    }


def _product(record: Record) -> dict[str, Any]:
    return {
        "Product": record.get("material_number"),
        "ProductType": record.get("material_type"),
        "BaseUnit": record.get("base_unit"),
        "to_Description": {"results": [{"Language": "EN", "ProductDescription": record.get("description")}]},
        "to_Valuation": {
            "results": [
                {
                    "ValuationArea": "1010",
                    "StandardPrice": decimal_text(record.get("unit_cost"), 4),
                    "Currency": record.get("currency"),
                }
            ]
        },
    }


def _labor_cost(record: Record) -> dict[str, Any]:
    return {
        "ProductionLine": record.get("line_id"),
        "CostCenter": record.get("cost_center"),
        "WorkDate": odata_date(record.get("work_date")),
        "LaborHours": decimal_text(record.get("labor_hours"), 2),
        "HourlyRate": decimal_text(record.get("hourly_rate"), 2),
        "LaborCost": decimal_text(record.get("labor_cost"), 2),
        "Currency": record.get("currency"),
    }
