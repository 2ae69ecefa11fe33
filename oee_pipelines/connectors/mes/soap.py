"""MES over SOAP (`system_type: soap`): zeep reads the service's WSDL; every HTTP call goes
through `RetryingHttpClient`, so SOAP gets the same timeouts, retries and typed errors as REST.

`base_url` is the service endpoint; its WSDL is at `<base_url>?wsdl`. Field names are the
WSDL's (fixed by the contract, so `field_mappings` does not apply). A SOAP Fault becomes a
`SoapFaultError` carrying the fault's code.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

import httpx
import zeep
import zeep.exceptions
import zeep.helpers
from lxml.etree import XMLSyntaxError

from oee_pipelines.connectors.errors import SourceDataError, SourceSystemError
from oee_pipelines.connectors.http import RetryingHttpClient
from oee_pipelines.connectors.mes.auth import AuthenticatedClient, build_auth
from oee_pipelines.connectors.mes.base import (
    CONSUMPTION,
    OPERATOR_ASSIGNMENT,
    RECIPE,
    SCHEDULE,
    WORK_ORDER,
    MESConnector,
    order_status_of,
)
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

SYSTEM = "mes_soap"
BINDING = "{urn:oee:mes:v1}MesBinding"

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


class SoapFaultError(SourceSystemError):
    """The service answered with a SOAP Fault (`fault_code` from its detail, else the faultcode)."""

    def __init__(self, system: str, call: str, reason: str, fault_code: str) -> None:
        self.fault_code = fault_code
        super().__init__(system, call, f"{fault_code}: {reason}")


class _SoapFaultAnswer(Exception):
    """Carries a fault response past the retry loop: a fault is an answer, not a server failure."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__("SOAP fault")


class _PassSoapFaults(httpx.Auth):
    """Wraps the configured auth; raises `_SoapFaultAnswer` for HTTP 500 answers holding a Fault.

    SOAP 1.1 sends faults with HTTP 500, which `RetryingHttpClient` would retry; raising here (a
    non-retryable exception) hands the fault to zeep instead.
    """

    requires_response_body = True

    def __init__(self, inner: httpx.Auth | None) -> None:
        self.inner = inner

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        inner_flow = self.inner.auth_flow(request) if self.inner is not None else None
        outgoing = next(inner_flow) if inner_flow is not None else request
        while True:
            response = yield outgoing
            if response.status_code == 500 and b"Fault>" in response.content:
                raise _SoapFaultAnswer(response)
            if inner_flow is None:
                return
            try:
                outgoing = inner_flow.send(response)
            except StopIteration:
                return


class _RetryingTransport(zeep.Transport):
    """A zeep transport whose GETs and POSTs go through `RetryingHttpClient`."""

    def __init__(self, http: RetryingHttpClient) -> None:
        # zeep's own __init__ opens a requests.Session we would never use.
        self.cache = None
        self.logger = logging.getLogger(__name__)
        self._close_session = False
        self._http = http

    def get(self, address: str, params: Mapping[str, Any], headers: Mapping[str, str]) -> httpx.Response:
        return self._http.get(address, params=params, headers=headers, call=f"GET {address}")

    def post(self, address: str, message: bytes | str, headers: Mapping[str, str]) -> httpx.Response:
        action = str(headers.get("SOAPAction", "")).strip('"').rsplit("/", 1)[-1] or "POST"
        try:
            return self._http.post(address, content=message, headers=dict(headers), call=action)
        except _SoapFaultAnswer as answer:
            return answer.response

    def load(self, url: str) -> bytes:
        return self._http.get(url, call="load WSDL").content


class SoapMESConnector(MESConnector):
    def __init__(self, config: SourceConnectionConfig) -> None:
        self.config = config
        self._client = AuthenticatedClient(config, SYSTEM, _PassSoapFaults(build_auth(config, SYSTEM)))
        self._context = RowContext(config.org_id, config.id_prefix, config.system_type)

    def close(self) -> None:
        self._client.close()

    @cached_property
    def _service(self) -> Any:
        """The zeep service proxy, bound to `base_url` whatever address the WSDL names."""
        wsdl_url = f"{self.config.base_url}?wsdl"
        try:
            client = zeep.Client(wsdl_url, transport=_RetryingTransport(self._client.http))
        except (XMLSyntaxError, zeep.exceptions.Error) as exc:
            raise SourceDataError(SYSTEM, "load WSDL", f"unreadable WSDL at {wsdl_url}: {exc}") from None
        return client.create_service(BINDING, self.config.base_url)

    def get_production_schedules(self, line_id: str, start: datetime, end: datetime) -> FetchResult:
        records = self._call("GetProductionSchedules", LineId=line_id, From=start, To=end)
        return self._result(records, SCHEDULE_ELEMENTS, SCHEDULE)

    def get_work_order(self, work_order_number: str) -> FetchResult:
        record = self._call("GetWorkOrder", OrderNumber=work_order_number)
        return self._result([record], WORK_ORDER_ELEMENTS, WORK_ORDER)

    def download_recipe(self, recipe_id: str) -> FetchResult:
        return self._result([self._call("DownloadRecipe", RecipeId=recipe_id)], RECIPE_ELEMENTS, RECIPE)

    def get_material_consumption(self, line_id: str, work_order_number: str) -> FetchResult:
        records = self._call("GetMaterialConsumption", LineId=line_id, OrderNumber=work_order_number)
        return self._result(records, CONSUMPTION_ELEMENTS, CONSUMPTION)

    def get_operator_assignments(self, start: datetime, end: datetime) -> FetchResult:
        records = self._call("GetOperatorAssignments", From=start, To=end)
        return self._result(records, OPERATOR_ASSIGNMENT_ELEMENTS, OPERATOR_ASSIGNMENT)

    def update_order_status(self, work_order_number: str, status: str, actual_quantity: int | None) -> bool:
        wanted = OrderStatus(status, actual_quantity)
        return push_order_status(work_order_number, wanted, self._current_status, self._send_status)

    def _current_status(self, work_order_number: str) -> OrderStatus:
        return order_status_of(self.get_work_order(work_order_number), SYSTEM, work_order_number)

    def _send_status(self, work_order_number: str, wanted: OrderStatus) -> None:
        accepted = self._call(
            "UpdateOrderStatus",
            OrderNumber=work_order_number,
            Status=wanted.status,
            ActualQuantity=wanted.actual_quantity,
        )
        if accepted is not True:
            raise SourceSystemError(
                SYSTEM, "UpdateOrderStatus", f"update of {work_order_number} not accepted"
            )

    def _call(self, operation: str, **arguments: Any) -> Any:
        try:
            return getattr(self._service, operation)(**arguments)
        except zeep.exceptions.Fault as fault:
            raise SoapFaultError(SYSTEM, operation, fault.message, _fault_code(fault)) from None
        except (zeep.exceptions.TransportError, XMLSyntaxError, zeep.exceptions.XMLParseError) as exc:
            raise SourceDataError(SYSTEM, operation, f"unreadable answer: {exc}") from None

    def _result(self, records: Any, elements: Mapping[str, str], entity: Entity) -> FetchResult:
        plain = [zeep.helpers.serialize_object(record, dict) or {} for record in records or []]
        return build_result((rename_fields(r, elements) for r in plain), entity, self._context)


def _fault_code(fault: zeep.exceptions.Fault) -> str:
    """The service's own code from `detail/MesFault/Code`, else the SOAP faultcode."""
    if fault.detail is not None:
        code = fault.detail.find(".//{urn:oee:mes:v1}Code")
        if code is not None and code.text:
            return code.text
    return str(fault.code)
