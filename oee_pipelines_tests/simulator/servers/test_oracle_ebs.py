"""The Oracle EBS simulator: ISG input and output envelopes and the service fault body."""

from __future__ import annotations

import httpx

from oee_pipelines.simulator.servers.oracle_ebs import OracleEbsSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines_tests.support.mes_samples import sample_source_data

AUTH = ("OEE_INTEGRATION", "ebs-password")


def test_output_parameters_and_the_service_fault() -> None:
    simulator = OracleEbsSimulator(sample_source_data())
    with ServerThread(simulator.app) as server:
        url = f"{server.base_url}/webservices/rest/oee_erp/GET_WORK_ORDER/"
        payload = {
            "GET_WORK_ORDER_Input": {"RESTHeader": {}, "InputParameters": {"P_WIP_ENTITY_NAME": "WO-000001"}}
        }
        answer = httpx.post(url, json=payload, auth=AUTH).json()["OutputParameters"]
        fault = httpx.post(url, json={"wrong": {}}, auth=AUTH)
    assert (answer["X_RETURN_STATUS"], answer["X_WORK_ORDER"]["START_QUANTITY"]) == ("S", "1001")
    assert answer["X_WORK_ORDER"]["STATUS_TYPE"] == "3"
    assert fault.status_code == 400
    assert fault.json()["ISGServiceFault"]["Code"] == "ISG_INVALID_INPUT_PAYLOAD"
