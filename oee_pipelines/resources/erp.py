"""The ERP as a Dagster resource; which ERP (SAP OData, Oracle EBS) is `system_type` in the configuration."""

from __future__ import annotations

from oee_pipelines.connectors.erp import ERPConnector, make_erp_connector
from oee_pipelines.resources.mes import SourceSystemResource


class ERPResource(SourceSystemResource):
    """The plant's ERP (`system_type`: `sap_odata` or `oracle_ebs`)."""

    section: str = "erp"

    def connector(self) -> ERPConnector:
        """A new connector; use it as a context manager so its connections are closed."""
        return make_erp_connector(self.connection_config())
