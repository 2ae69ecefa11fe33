"""A MES SOAP 1.1 service (document/literal) over `SourceData`, described by `mes_soap.wsdl`.

`GET /soap/mes?wsdl` serves the WSDL with this server's address; `POST /soap/mes` answers
GetProductionSchedules, GetWorkOrder, DownloadRecipe, UpdateOrderStatus, GetMaterialConsumption and
GetOperatorAssignments. Unknown orders, recipes or statuses answer a SOAP Fault (HTTP 500, as WS-I
Basic Profile requires) with a `MesFault/Code` detail. Basic auth.
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches
from oee_pipelines.simulator.servers.source_data import Record, SourceData, json_value

WSDL_FILE = Path(__file__).with_name("mes_soap.wsdl")
SERVICE_PATH = "/soap/mes"
NS = "urn:oee:mes:v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
STATUSES = ("planned", "released", "in_progress", "completed", "cancelled")
ET.register_namespace("soap", SOAP_ENV)
ET.register_namespace("mes", NS)

SCHEDULE_ELEMENTS = {
    "schedule_id": "ScheduleId", "line_id": "LineId", "work_order_number": "OrderNumber",
    "product_id": "MaterialNumber", "recipe_id": "RecipeId", "planned_start": "PlannedStart",
    "planned_end": "PlannedEnd", "planned_quantity": "TargetQuantity", "status": "Status",
}  # fmt: skip
WORK_ORDER_ELEMENTS = {
    "work_order_number": "OrderNumber", "line_id": "LineId", "product_id": "MaterialNumber",
    "recipe_id": "RecipeId", "planned_quantity": "TargetQuantity", "actual_quantity": "ActualQuantity",
    "status": "Status", "planned_start": "PlannedStart", "planned_end": "PlannedEnd",
    "actual_start": "ActualStart", "actual_end": "ActualEnd",
}  # fmt: skip
RECIPE_ELEMENTS = {
    "recipe_id": "RecipeId", "product_id": "MaterialNumber", "line_id": "LineId", "name": "Name",
    "version": "Version", "ideal_cycle_time_s": "IdealCycleTimeSeconds",
    "target_cycle_time_s": "TargetCycleTimeSeconds", "parameters": "ParametersJson",
}  # fmt: skip
CONSUMPTION_ELEMENTS = {
    "work_order_number": "OrderNumber", "line_id": "LineId", "material_number": "MaterialNumber",
    "planned_quantity": "PlannedQuantity", "consumed_quantity": "ConsumedQuantity", "base_unit": "Unit",
}  # fmt: skip
OPERATOR_ASSIGNMENT_ELEMENTS = {
    "operator_id": "OperatorId", "operator_name": "OperatorName", "role": "Role", "line_id": "LineId",
    "shift_id": "ShiftId", "shift_date": "ShiftDate", "start_time": "StartTime", "end_time": "EndTime",
}  # fmt: skip


class SoapFault(Exception):
    def __init__(self, code: str, message: str, fault_code: str = "soap:Client") -> None:
        self.code = code
        self.message = message
        self.fault_code = fault_code
        super().__init__(message)


@dataclass(frozen=True)
class MesSoapCredentials:
    username: str = "mes-user"
    password: str = "mes-password"


class MesSoapSimulator:
    """The app (`.app`, wrapped in fault injection); the state lives in `source`."""

    def __init__(
        self,
        source: SourceData,
        *,
        switches: FaultSwitches | None = None,
        credentials: MesSoapCredentials | None = None,
    ) -> None:
        self.source = source
        self.switches = switches or FaultSwitches()
        self.credentials = credentials or MesSoapCredentials()
        self._operations: dict[str, Callable[[dict[str, str]], ET.Element]] = {
            "GetProductionSchedules": self._schedules,
            "GetWorkOrder": self._work_order,
            "DownloadRecipe": self._recipe,
            "UpdateOrderStatus": self._update_status,
            "GetMaterialConsumption": self._consumption,
            "GetOperatorAssignments": self._operator_assignments,
        }
        routes = [Route(SERVICE_PATH, self._endpoint, methods=["GET", "POST"])]
        self.app = FaultInjectionMiddleware(Starlette(routes=routes), self.switches)

    async def _endpoint(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response("unauthorized", status_code=401, headers={"WWW-Authenticate": "Basic"})
        if request.method == "GET":
            location = f"{str(request.base_url).rstrip('/')}{SERVICE_PATH}"
            return Response(WSDL_FILE.read_text().replace("LOCATION", location), media_type="text/xml")
        try:
            name, arguments = _operation_of(await request.body())
            handler = self._operations.get(name)
            if handler is None:
                raise SoapFault("UNKNOWN_OPERATION", f"operation {name} is not offered")
            return _xml_response(_envelope(handler(arguments)))
        except SoapFault as fault:
            return _xml_response(_fault_envelope(fault), status_code=500)

    def _authorized(self, request: Request) -> bool:
        expected = f"{self.credentials.username}:{self.credentials.password}".encode()
        return request.headers.get("Authorization") == "Basic " + base64.b64encode(expected).decode()

    def _schedules(self, arguments: dict[str, str]) -> ET.Element:
        start, end = _datetime(arguments, "From"), _datetime(arguments, "To")
        records = self.source.schedules_of_line(arguments.get("LineId", ""), start, end)
        return _records_element("GetProductionSchedulesResponse", "Schedule", records, SCHEDULE_ELEMENTS)

    def _work_order(self, arguments: dict[str, str]) -> ET.Element:
        order = self._known_order(arguments.get("OrderNumber", ""))
        return _records_element("GetWorkOrderResponse", "WorkOrder", [order], WORK_ORDER_ELEMENTS)

    def _recipe(self, arguments: dict[str, str]) -> ET.Element:
        recipe = self.source.recipe(arguments.get("RecipeId", ""))
        if recipe is None:
            raise SoapFault("NOT_FOUND", f"recipe {arguments.get('RecipeId')} not found")
        return _records_element("DownloadRecipeResponse", "Recipe", [recipe], RECIPE_ELEMENTS)

    def _update_status(self, arguments: dict[str, str]) -> ET.Element:
        number, status = arguments.get("OrderNumber", ""), arguments.get("Status", "")
        if status not in STATUSES:
            raise SoapFault("INVALID_STATUS", f"status {status!r} is not one of {', '.join(STATUSES)}")
        self._known_order(number)
        quantity = arguments.get("ActualQuantity")
        self.source.apply_status_update(number, status, int(quantity) if quantity else None)
        response = ET.Element(f"{{{NS}}}UpdateOrderStatusResponse")
        ET.SubElement(response, f"{{{NS}}}Accepted").text = "true"
        return response

    def _consumption(self, arguments: dict[str, str]) -> ET.Element:
        records = self.source.consumption_of(arguments.get("OrderNumber", ""))
        return _records_element(
            "GetMaterialConsumptionResponse", "Consumption", records, CONSUMPTION_ELEMENTS
        )

    def _operator_assignments(self, arguments: dict[str, str]) -> ET.Element:
        records = self.source.operator_assignments_between(
            _datetime(arguments, "From"), _datetime(arguments, "To")
        )
        return _records_element(
            "GetOperatorAssignmentsResponse", "Assignment", records, OPERATOR_ASSIGNMENT_ELEMENTS
        )

    def _known_order(self, number: str) -> Record:
        order = self.source.work_order(number)
        if order is None:
            raise SoapFault("NOT_FOUND", f"work order {number} not found")
        return order


def _operation_of(body: bytes) -> tuple[str, dict[str, str]]:
    try:
        envelope = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SoapFault("BAD_REQUEST", f"unreadable XML: {exc}") from None
    operation = envelope.find(f"{{{SOAP_ENV}}}Body/*")
    if operation is None:
        raise SoapFault("BAD_REQUEST", "no operation in the SOAP Body")
    arguments = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in operation}
    return operation.tag.rsplit("}", 1)[-1], arguments


def _datetime(arguments: dict[str, str], name: str) -> datetime:
    try:
        return datetime.fromisoformat(arguments[name])
    except (KeyError, ValueError):
        raise SoapFault("BAD_REQUEST", f"{name} must be an xsd:dateTime") from None


def _text(value: Any) -> str:
    plain = json_value(value)
    return json.dumps(plain) if isinstance(plain, Mapping) else str(plain)


def _records_element(
    response_name: str, item_name: str, records: list[Record], elements: Mapping[str, str]
) -> ET.Element:
    response = ET.Element(f"{{{NS}}}{response_name}")
    for record in records:
        item = ET.SubElement(response, f"{{{NS}}}{item_name}")
        for ours, wire in elements.items():
            if record.get(ours) is not None:
                ET.SubElement(item, f"{{{NS}}}{wire}").text = _text(record[ours])
    return response


def _envelope(payload: ET.Element) -> ET.Element:
    envelope = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    ET.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return envelope


def _fault_envelope(fault: SoapFault) -> ET.Element:
    body_fault = ET.Element(f"{{{SOAP_ENV}}}Fault")
    ET.SubElement(body_fault, "faultcode").text = fault.fault_code
    ET.SubElement(body_fault, "faultstring").text = fault.message
    detail = ET.SubElement(ET.SubElement(body_fault, "detail"), f"{{{NS}}}MesFault")
    ET.SubElement(detail, f"{{{NS}}}Code").text = fault.code
    return _envelope(body_fault)


def _xml_response(envelope: ET.Element, status_code: int = 200) -> Response:
    body = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return Response(body, status_code=status_code, media_type="text/xml; charset=utf-8")
