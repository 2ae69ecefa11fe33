"""Oracle E-Business Suite REST services (Integrated SOA Gateway style) over `SourceData`.

`POST /webservices/rest/oee_erp/<OPERATION>/` with `{"<OPERATION>_Input": {"RESTHeader": {...},
"InputParameters": {...}}}`; answers `{"OutputParameters": {...}}` with the PL/SQL API's
`X_RETURN_STATUS` (`S`/`E`), `X_MSG_COUNT`, `X_MSG_DATA`, and tables as `{"X_<T>": {"X_<T>_ITEM":
[...]}}`. Numbers travel as text. An unreadable request or unknown operation answers ISG's
`{"ISGServiceFault": {"Code", "Message", "Resolution", "ServiceDetails"}}`. Basic auth.

Operations: GET_ITEMS, GET_LABOR_COSTS (P_LINE_ID, P_FROM_DATE, P_TO_DATE), GET_WORK_ORDER and
GET_MATERIAL_REQUIREMENTS (P_WIP_ENTITY_NAME), UPDATE_WORK_ORDER_STATUS (P_WIP_ENTITY_NAME,
P_STATUS_TYPE, P_QUANTITY_COMPLETED). WIP status types: 1 unreleased, 3 released, 4 complete,
7 cancelled.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches
from oee_pipelines.simulator.servers.source_data import Record, SourceData, json_value

SERVICE_ALIAS = "oee_erp"
STATUS_TYPES = {"planned": "1", "released": "3", "in_progress": "3", "completed": "4", "cancelled": "7"}
STATUS_OF_TYPE = {"1": "planned", "3": "released", "4": "completed", "7": "cancelled"}


class BusinessError(Exception):
    """The PL/SQL API refused: X_RETURN_STATUS = E with the message in X_MSG_DATA."""


@dataclass(frozen=True)
class OracleCredentials:
    username: str = "OEE_INTEGRATION"
    password: str = "ebs-password"


class OracleEbsSimulator:
    """The app (`.app`, wrapped in fault injection); the state lives in `source`."""

    def __init__(
        self,
        source: SourceData,
        *,
        switches: FaultSwitches | None = None,
        credentials: OracleCredentials | None = None,
    ) -> None:
        self.source = source
        self.switches = switches or FaultSwitches()
        self.credentials = credentials or OracleCredentials()
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "GET_ITEMS": self._items,
            "GET_LABOR_COSTS": self._labor_costs,
            "GET_WORK_ORDER": self._work_order,
            "GET_MATERIAL_REQUIREMENTS": self._requirements,
            "UPDATE_WORK_ORDER_STATUS": self._update_status,
        }
        routes = [
            Route(f"/webservices/rest/{SERVICE_ALIAS}/{{operation}}/", self._endpoint, methods=["POST"])
        ]
        self.app = FaultInjectionMiddleware(Starlette(routes=routes), self.switches)

    async def _endpoint(self, request: Request) -> Response:
        expected = f"{self.credentials.username}:{self.credentials.password}".encode()
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(expected).decode():
            return PlainTextResponse("Unauthorized", status_code=401)
        operation = request.path_params["operation"]
        handler = self._operations.get(operation)
        if handler is None:
            return _service_fault(
                404, "ISG_OPERATION_NOT_FOUND", f"Operation {operation} is not deployed", operation
            )
        try:
            parameters = json.loads(await request.body())[f"{operation}_Input"]["InputParameters"]
        except (ValueError, KeyError, TypeError):
            message = f"Request payload must be {{'{operation}_Input': {{'InputParameters': {{...}}}}}}"
            return _service_fault(400, "ISG_INVALID_INPUT_PAYLOAD", message, operation)
        try:
            output = {"X_RETURN_STATUS": "S", "X_MSG_COUNT": "0", "X_MSG_DATA": None, **handler(parameters)}
        except BusinessError as exc:
            output = {"X_RETURN_STATUS": "E", "X_MSG_COUNT": "1", "X_MSG_DATA": str(exc)}
        return JSONResponse({"OutputParameters": output})

    def _items(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return _table("X_ITEMS", [_item(m) for m in self.source.materials])

    def _labor_costs(self, parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            start = date.fromisoformat(str(parameters.get("P_FROM_DATE")))
            end = date.fromisoformat(str(parameters.get("P_TO_DATE")))
        except ValueError:
            raise BusinessError("P_FROM_DATE and P_TO_DATE must be YYYY-MM-DD") from None
        records = self.source.labor_costs_of_line(str(parameters.get("P_LINE_ID")), start, end)
        return _table("X_LABOR_COSTS", [_labor_cost(r) for r in records])

    def _work_order(self, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"X_WORK_ORDER": _work_order(self._known_order(parameters))}

    def _requirements(self, parameters: dict[str, Any]) -> dict[str, Any]:
        records = self.source.consumption_of(str(parameters.get("P_WIP_ENTITY_NAME")))
        return _table("X_REQUIREMENTS", [_requirement(r) for r in records])

    def _update_status(self, parameters: dict[str, Any]) -> dict[str, Any]:
        order = self._known_order(parameters)
        status_type = str(parameters.get("P_STATUS_TYPE"))
        quantity = parameters.get("P_QUANTITY_COMPLETED")
        if status_type not in STATUS_OF_TYPE:
            raise BusinessError(f"WIP_INVALID_STATUS_TYPE: {status_type} is not a valid status type")
        completed = int(quantity) if quantity not in (None, "") else None
        status = "in_progress" if status_type == "3" and completed else STATUS_OF_TYPE[status_type]
        self.source.apply_status_update(order["work_order_number"], status, completed)
        return {}

    def _known_order(self, parameters: dict[str, Any]) -> Record:
        name = str(parameters.get("P_WIP_ENTITY_NAME"))
        order = self.source.work_order(name)
        if order is None:
            raise BusinessError(f"WIP_ENTITY_NOT_FOUND: Job {name} does not exist")
        return order


def _service_fault(status_code: int, code: str, message: str, operation: str) -> Response:
    fault = {
        "Code": code,
        "Message": message,
        "Resolution": "Check the service definition in the Integration Repository.",
        "ServiceDetails": {"ServiceName": SERVICE_ALIAS, "OperationName": operation, "InstanceId": "0"},
    }
    return JSONResponse({"ISGServiceFault": fault}, status_code=status_code)


def _text(value: Any) -> Any:
    """Numbers as text, as ISG sends them; other values JSON-safe."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return json_value(value)


def _table(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {name: {f"{name}_ITEM": rows}}


def _item(record: Record) -> dict[str, Any]:
    names = {
        "material_number": "SEGMENT1", "description": "DESCRIPTION", "material_type": "ITEM_TYPE",
        "base_unit": "PRIMARY_UOM_CODE", "unit_cost": "ITEM_COST", "currency": "CURRENCY_CODE",
    }  # fmt: skip
    return {wire: _text(record.get(ours)) for ours, wire in names.items()}


def _labor_cost(record: Record) -> dict[str, Any]:
    names = {
        "line_id": "LINE_ID", "cost_center": "COST_CENTER", "work_date": "WORK_DATE",
        "labor_hours": "LABOR_HOURS", "hourly_rate": "HOURLY_RATE", "labor_cost": "LABOR_COST",
        "currency": "CURRENCY_CODE",
    }  # fmt: skip
    return {wire: _text(record.get(ours)) for ours, wire in names.items()}


def _work_order(record: Record) -> dict[str, Any]:
    names = {
        "work_order_number": "WIP_ENTITY_NAME", "product_id": "PRIMARY_ITEM", "line_id": "LINE_ID",
        "recipe_id": "ROUTING_REFERENCE", "planned_quantity": "START_QUANTITY",
        "actual_quantity": "QUANTITY_COMPLETED", "planned_start": "SCHEDULED_START_DATE",
        "planned_end": "SCHEDULED_COMPLETION_DATE",
    }  # fmt: skip
    wire = {name: _text(record.get(ours)) for ours, name in names.items()}
    return {**wire, "STATUS_TYPE": STATUS_TYPES.get(str(record.get("status")), str(record.get("status")))}


def _requirement(record: Record) -> dict[str, Any]:
    names = {
        "work_order_number": "WIP_ENTITY_NAME", "line_id": "LINE_ID", "material_number": "SEGMENT1",
        "planned_quantity": "REQUIRED_QUANTITY", "consumed_quantity": "QUANTITY_ISSUED",
        "base_unit": "PRIMARY_UOM_CODE",
    }  # fmt: skip
    return {wire: _text(record.get(ours)) for ours, wire in names.items()}
