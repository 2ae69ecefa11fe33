"""Fixtures: the seeded warehouse and the MES/ERP simulators serving the sample records."""

from oee_pipelines_tests.support.mes_fixtures import source_data, sources, warehouse_url

__all__ = ["source_data", "sources", "warehouse_url"]
