"""Fixtures: a small plant in the warehouse, an empty lake, the importer and a file writer."""

from oee_pipelines_tests.support.import_fixtures import importer, lake, plant_database, write_file

__all__ = ["importer", "lake", "plant_database", "write_file"]
