"""MES connectors: one interface (`MESConnector`), chosen by `system_type` in the configuration."""

from __future__ import annotations

from collections.abc import Callable

from oee_pipelines.connectors.mes.base import MESConnector
from oee_pipelines.connectors.mes.config import SourceConnectionConfig
from oee_pipelines.connectors.mes.records import FetchResult, RejectedRecord
from oee_pipelines.connectors.mes.rest import RestMESConnector
from oee_pipelines.connectors.mes.soap import SoapMESConnector

MES_CONNECTORS: dict[str, Callable[[SourceConnectionConfig], MESConnector]] = {
    "custom_rest": RestMESConnector,
    "soap": SoapMESConnector,
}

__all__ = [
    "MES_CONNECTORS",
    "FetchResult",
    "MESConnector",
    "RejectedRecord",
    "SourceConnectionConfig",
    "make_mes_connector",
]


def make_mes_connector(config: SourceConnectionConfig) -> MESConnector:
    """The MES connector for `config.system_type` (`custom_rest` or `soap`)."""
    connector = MES_CONNECTORS.get(config.system_type)
    if connector is None:
        raise ValueError(
            f"unknown MES system_type {config.system_type!r}; expected one of {sorted(MES_CONNECTORS)}"
        )
    return connector(config)
