"""ERP connectors: one interface (`ERPConnector`), chosen by `system_type` in the configuration."""

from __future__ import annotations

from collections.abc import Callable

from oee_pipelines.connectors.erp.base import ERPConnector, production_variance
from oee_pipelines.connectors.erp.oracle_ebs import OracleEbsConnector
from oee_pipelines.connectors.erp.sap_odata import SapODataConnector
from oee_pipelines.connectors.mes.config import SourceConnectionConfig

ERP_CONNECTORS: dict[str, Callable[[SourceConnectionConfig], ERPConnector]] = {
    "sap_odata": SapODataConnector,
    "oracle_ebs": OracleEbsConnector,
}

__all__ = ["ERP_CONNECTORS", "ERPConnector", "make_erp_connector", "production_variance"]


def make_erp_connector(config: SourceConnectionConfig) -> ERPConnector:
    """The ERP connector for `config.system_type` (`sap_odata` or `oracle_ebs`)."""
    connector = ERP_CONNECTORS.get(config.system_type)
    if connector is None:
        known = ", ".join(sorted(ERP_CONNECTORS))
        raise ValueError(f"unknown ERP system_type {config.system_type!r}; expected one of {known}")
    return connector(config)
