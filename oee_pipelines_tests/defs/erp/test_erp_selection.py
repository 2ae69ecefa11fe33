"""Either ERP, SAP OData or Oracle EBS, runs through the same Dagster assets; `system_type` chooses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from oee_pipelines.defs.erp.assets import erp_materials, labor_costs
from oee_pipelines.defs.resources import source_system_fields
from oee_pipelines.resources.erp import ERPResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.servers.oracle_ebs import OracleCredentials, OracleEbsSimulator
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.simulator.servers.sap_odata import SapCredentials, SapODataSimulator
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines_tests.support.mes_sources import FAST_RETRIES, rows

LABOR_WINDOW = {"ops": {"labor_costs": {"config": {"start": "2025-01-13", "end": "2025-01-16"}}}}
ERP_SYSTEMS = ("sap_odata", "oracle_ebs")


@pytest.fixture
def erp_urls(source_data: SourceData) -> Iterator[dict[str, str]]:
    """Both ERP simulators over the same sample records: system_type -> the connector's base URL."""
    with (
        ServerThread(SapODataSimulator(source_data, max_page_size=2).app) as sap,
        ServerThread(OracleEbsSimulator(source_data).app) as oracle,
    ):
        yield {"sap_odata": f"{sap.base_url}/sap/opu/odata/sap", "oracle_ebs": oracle.base_url}


def erp_resource(system_type: str, base_url: str) -> ERPResource:
    login: Any = SapCredentials() if system_type == "sap_odata" else OracleCredentials()
    return ERPResource(
        system_type=system_type,
        base_url=base_url,
        auth_type="basic",
        username=login.username,
        password=login.password,
        **FAST_RETRIES,
    )


def sync_erp(url: str, erp: ERPResource) -> dict[str, dict[str, Any]]:
    result = dg.materialize(
        [erp_materials, labor_costs],
        resources={"warehouse": WarehouseResource(database_url=url), "erp": erp},
        run_config=LABOR_WINDOW,
    )
    assert result.success
    return {
        m.asset_key.to_user_string(): {name: value.value for name, value in m.metadata.items()}
        for node in ("erp_materials", "labor_costs")
        for m in result.asset_materializations_for_node(node)
    }


@pytest.mark.parametrize("system_type", ERP_SYSTEMS)
def test_each_erp_lands_materials_and_labour_through_the_assets(
    system_type: str, erp_urls: dict[str, str], warehouse_url: str
) -> None:
    erp = erp_resource(system_type, erp_urls[system_type])

    first = sync_erp(warehouse_url, erp)
    second = sync_erp(warehouse_url, erp)

    assert {asset: (m["created"], m["sync_status"]) for asset, m in first.items()} == {
        "erp_materials": (5, "SUCCESS"),
        "labor_costs": (6, "SUCCESS"),
    }
    assert {asset: (m["created"], m["updated"]) for asset, m in second.items()} == {
        "erp_materials": (0, 0),
        "labor_costs": (0, 0),
    }
    assert rows(warehouse_url, "SELECT count(*), min(source_system), max(source_system) FROM materials") == [
        (5, system_type, system_type)
    ]
    assert rows(
        warehouse_url,
        "SELECT count(DISTINCT work_date), min(source_system), max(source_system) FROM labor_costs",
    ) == [(3, system_type, system_type)]
    assert rows(warehouse_url, "SELECT DISTINCT mes_system FROM mes_schedule_sync") == [(system_type,)]


def test_both_erps_read_the_same_records_the_same_way(erp_urls: dict[str, str], warehouse_url: str) -> None:
    """Oracle EBS after SAP over the same records: every row is the same but for its source system."""
    sync_erp(warehouse_url, erp_resource("sap_odata", erp_urls["sap_odata"]))
    columns = "material_number, description, material_type, base_unit, unit_cost, currency"
    from_sap = rows(warehouse_url, f"SELECT {columns} FROM materials ORDER BY material_number")

    switched = sync_erp(warehouse_url, erp_resource("oracle_ebs", erp_urls["oracle_ebs"]))

    assert rows(warehouse_url, f"SELECT {columns} FROM materials ORDER BY material_number") == from_sap
    assert (switched["erp_materials"]["created"], switched["erp_materials"]["updated"]) == (0, 5)
    assert rows(warehouse_url, "SELECT DISTINCT source_system FROM materials") == [("oracle_ebs",)]


def test_an_unknown_erp_system_type_names_the_supported_ones(warehouse_url: str) -> None:
    result = dg.materialize(
        [erp_materials],
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url),
            "erp": erp_resource("sap_me", "http://127.0.0.1:9"),
        },
        raise_on_error=False,
    )

    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "sap_me" in error and "oracle_ebs" in error and "sap_odata" in error


@pytest.mark.parametrize("system_type", ERP_SYSTEMS)
def test_the_erp_is_chosen_by_the_configuration_file(
    system_type: str,
    erp_urls: dict[str, str],
    warehouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The seed's `erp_config.yml` with only `system_type` and the connection changed."""
    login: Any = SapCredentials() if system_type == "sap_odata" else OracleCredentials()
    (tmp_path / "erp_config.yml").write_text(
        ERP_CONFIG.format(system_type=system_type, base_url=erp_urls[system_type]), encoding="utf-8"
    )
    monkeypatch.setenv("ERP_USERNAME", login.username)
    monkeypatch.setenv("ERP_PASSWORD", login.password)
    monkeypatch.delenv("OEE_CONFIG_FILE", raising=False)
    settings = Settings.from_env({**os.environ, "OEE_CONFIG_DIR": str(tmp_path)})

    erp = ERPResource(**source_system_fields(settings.sources.erp))
    metadata = sync_erp(warehouse_url, erp)

    assert metadata["erp_materials"]["created"] == 5
    assert rows(warehouse_url, "SELECT DISTINCT source_system FROM labor_costs") == [(system_type,)]


ERP_CONFIG = """\
erp:
  enabled: true
  system_type: '{system_type}'
  connection:
    base_url: '{base_url}'
    auth_type: 'basic'
    username: '${{ERP_USERNAME}}'
    password: '${{ERP_PASSWORD}}'
    timeout_seconds: 5
"""
