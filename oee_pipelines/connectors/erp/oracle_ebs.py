"""Oracle E-Business Suite over Integrated SOA Gateway REST (`system_type: oracle_ebs`).

Each call is `POST <base_url>/webservices/rest/<alias>/<OPERATION>/` with
`{"<OPERATION>_Input": {"RESTHeader": {...}, "InputParameters": {...}}}`; the answer is
`{"OutputParameters": {...}}`. A PL/SQL API error (`X_RETURN_STATUS` `E`/`U`) and an
`ISGServiceFault` body both become `SourceSystemError` naming the operation and the message.
`service_options` may set `service_alias` and the RESTHeader values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from oee_pipelines.connectors.erp.base import LABOR_COST, MATERIAL, ERPConnector
from oee_pipelines.connectors.errors import SourceAuthError, SourceDataError, SourceSystemError
from oee_pipelines.connectors.mes.auth import AuthenticatedClient
from oee_pipelines.connectors.mes.base import CONSUMPTION, WORK_ORDER, order_status_of
from oee_pipelines.connectors.mes.config import SourceConnectionConfig
from oee_pipelines.connectors.mes.records import (
    Entity,
    FetchResult,
    OrderStatus,
    RowContext,
    build_result,
    push_order_status,
    rename_fields,
)

SYSTEM = "oracle_ebs"
REST_HEADER_DEFAULTS = {
    "Responsibility": "WIP",
    "RespApplication": "WIP",
    "SecurityGroup": "STANDARD",
    "NLSLanguage": "AMERICAN",
}
STATUS_TYPES = {"planned": "1", "released": "3", "in_progress": "3", "completed": "4", "cancelled": "7"}
STATUS_OF_TYPE = {"1": "planned", "3": "released", "4": "completed", "7": "cancelled"}

ITEM_FIELDS = {
    "material_number": "SEGMENT1", "description": "DESCRIPTION", "material_type": "ITEM_TYPE",
    "base_unit": "PRIMARY_UOM_CODE", "unit_cost": "ITEM_COST", "currency": "CURRENCY_CODE",
}  # fmt: skip
LABOR_FIELDS = {
    "line_id": "LINE_ID", "cost_center": "COST_CENTER", "work_date": "WORK_DATE",
    "labor_hours": "LABOR_HOURS", "hourly_rate": "HOURLY_RATE", "labor_cost": "LABOR_COST",
    "currency": "CURRENCY_CODE",
}  # fmt: skip
WORK_ORDER_FIELDS = {
    "work_order_number": "WIP_ENTITY_NAME", "product_id": "PRIMARY_ITEM", "line_id": "LINE_ID",
    "recipe_id": "ROUTING_REFERENCE", "planned_quantity": "START_QUANTITY",
    "actual_quantity": "QUANTITY_COMPLETED", "planned_start": "SCHEDULED_START_DATE",
    "planned_end": "SCHEDULED_COMPLETION_DATE",
}  # fmt: skip
REQUIREMENT_FIELDS = {
    "work_order_number": "WIP_ENTITY_NAME", "line_id": "LINE_ID", "material_number": "SEGMENT1",
    "planned_quantity": "REQUIRED_QUANTITY", "consumed_quantity": "QUANTITY_ISSUED",
    "base_unit": "PRIMARY_UOM_CODE",
}  # fmt: skip


class OracleEbsConnector(ERPConnector):
    def __init__(self, config: SourceConnectionConfig) -> None:
        self.config = config
        self._client = AuthenticatedClient(config, SYSTEM)
        self._http = self._client.http
        self._context = RowContext(config.org_id, config.id_prefix, config.system_type)
        options = dict(config.service_options)
        self._alias = options.pop("service_alias", "oee_erp")
        self._rest_header = {**REST_HEADER_DEFAULTS, **options}

    def close(self) -> None:
        self._client.close()

    def get_materials(self) -> FetchResult:
        items = _table(self._call("GET_ITEMS", {}), "X_ITEMS")
        return self._result(items, ITEM_FIELDS, MATERIAL)

    def get_labor_costs(self, line_id: str, start_date: date, end_date: date) -> FetchResult:
        parameters = {
            "P_LINE_ID": line_id,
            "P_FROM_DATE": start_date.isoformat(),
            "P_TO_DATE": end_date.isoformat(),
        }
        return self._result(
            _table(self._call("GET_LABOR_COSTS", parameters), "X_LABOR_COSTS"), LABOR_FIELDS, LABOR_COST
        )

    def get_work_order(self, work_order_number: str) -> FetchResult:
        output = self._call("GET_WORK_ORDER", {"P_WIP_ENTITY_NAME": work_order_number})
        order = output.get("X_WORK_ORDER")
        if not isinstance(order, Mapping):
            raise SourceDataError(SYSTEM, "GET_WORK_ORDER", "no X_WORK_ORDER in OutputParameters")
        return self._result([{**order, "status": _status(order)}], WORK_ORDER_FIELDS, WORK_ORDER)

    def get_inventory_consumption(self, work_order_number: str) -> FetchResult:
        output = self._call("GET_MATERIAL_REQUIREMENTS", {"P_WIP_ENTITY_NAME": work_order_number})
        return self._result(_table(output, "X_REQUIREMENTS"), REQUIREMENT_FIELDS, CONSUMPTION)

    def update_order_status(self, work_order_number: str, status: str, actual_quantity: int | None) -> bool:
        return push_order_status(
            work_order_number, OrderStatus(status, actual_quantity), self._current_status, self._send_status
        )

    def _current_status(self, work_order_number: str) -> OrderStatus:
        return order_status_of(self.get_work_order(work_order_number), SYSTEM, work_order_number)

    def _send_status(self, work_order_number: str, wanted: OrderStatus) -> None:
        parameters = {
            "P_WIP_ENTITY_NAME": work_order_number,
            "P_STATUS_TYPE": STATUS_TYPES[wanted.status],
            "P_QUANTITY_COMPLETED": None if wanted.actual_quantity is None else str(wanted.actual_quantity),
        }
        self._call("UPDATE_WORK_ORDER_STATUS", parameters)

    def _call(self, operation: str, parameters: Mapping[str, Any]) -> Mapping[str, Any]:
        """One ISG operation; its OutputParameters, or a typed error naming the operation."""
        payload = {
            f"{operation}_Input": {"RESTHeader": self._rest_header, "InputParameters": dict(parameters)}
        }
        path = f"/webservices/rest/{self._alias}/{operation}/"
        try:
            response = self._http.post(path, call=operation, json=payload)
        except SourceAuthError:
            raise
        except SourceSystemError as exc:
            if exc.status_code is None or exc.status_code >= 500:
                raise
            raise SourceSystemError(
                SYSTEM, operation, isg_fault_message(exc.reason), status_code=exc.status_code
            ) from None
        try:
            output = response.json()["OutputParameters"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceDataError(
                SYSTEM, operation, f"expected {{'OutputParameters': ...}}: {exc!r}"
            ) from None
        if not isinstance(output, Mapping):
            raise SourceDataError(SYSTEM, operation, "OutputParameters is not an object")
        if output.get("X_RETURN_STATUS") not in (None, "S"):
            raise SourceSystemError(
                SYSTEM, operation, str(output.get("X_MSG_DATA") or "the API returned an error")
            )
        return output

    def _result(
        self, records: list[Mapping[str, Any]], fields: Mapping[str, str], entity: Entity
    ) -> FetchResult:
        return build_result((rename_fields(r, fields) for r in records), entity, self._context)


def isg_fault_message(body: str) -> str:
    """`Code: Message` from ISG's `{"ISGServiceFault": {...}}`; else the body as it is."""
    try:
        fault = json.loads(body)["ISGServiceFault"]
        return f"{fault['Code']}: {fault['Message']}"
    except (ValueError, KeyError, TypeError):
        return body


def _table(output: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """A PL/SQL table `{"X_T": {"X_T_ITEM": [...]}}`; ISG sends a single row as an object, not a list."""
    table = output.get(name)
    rows = table.get(f"{name}_ITEM") if isinstance(table, Mapping) else None
    if rows is None:
        return []
    rows = [rows] if isinstance(rows, Mapping) else rows
    if not isinstance(rows, list):
        raise SourceDataError(SYSTEM, name, f"{name}_ITEM is neither a list nor an object")
    return [row if isinstance(row, Mapping) else {} for row in rows]


def _status(order: Mapping[str, Any]) -> str | None:
    status = STATUS_OF_TYPE.get(str(order.get("STATUS_TYPE")))
    completed = str(order.get("QUANTITY_COMPLETED") or "0").strip()
    return "in_progress" if status == "released" and completed not in ("0", "") else status
