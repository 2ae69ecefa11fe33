"""The MES SOAP simulator: the WSDL it serves and the faults it answers."""

from __future__ import annotations

import httpx

from oee_pipelines.simulator.servers.mes_soap import MesSoapSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.mes_samples import sample_source_data

AUTH = ("mes-user", "mes-password")
UNKNOWN_ORDER = b"""<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="urn:oee:mes:v1">
  <soap:Body><m:GetWorkOrder><m:OrderNumber>WO-404</m:OrderNumber></m:GetWorkOrder></soap:Body>
</soap:Envelope>"""


def test_the_wsdl_names_this_server_and_every_operation() -> None:
    simulator = MesSoapSimulator(sample_source_data())
    with ServerThread(simulator.app) as server:
        wsdl = httpx.get(f"{server.base_url}/soap/mes?wsdl", auth=AUTH).text
    assert f'location="{server.base_url}/soap/mes"' in wsdl
    for operation in ("GetProductionSchedules", "GetWorkOrder", "DownloadRecipe", "UpdateOrderStatus"):
        assert f'<wsdl:operation name="{operation}">' in wsdl
    assert '<wsdl:operation name="GetMaterialConsumption">' in wsdl


def test_an_unknown_order_answers_a_fault_with_http_500() -> None:
    simulator = MesSoapSimulator(sample_source_data())
    with ServerThread(simulator.app) as server:
        response = httpx.post(f"{server.base_url}/soap/mes", content=UNKNOWN_ORDER, auth=AUTH)
    assert response.status_code == 500
    assert b"<faultstring>work order WO-404 not found</faultstring>" in response.content
    assert b"<mes:Code>NOT_FOUND</mes:Code>" in response.content
