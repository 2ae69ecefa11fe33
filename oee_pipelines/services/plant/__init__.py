"""The plant model service: the only writer of the plant tables (see `service.py`)."""

from oee_pipelines.services.plant.service import ApplyReport, MasterDataReport, PlantModelService
from oee_pipelines.services.plant.tables import PLANT_TABLES

__all__ = ["PLANT_TABLES", "ApplyReport", "MasterDataReport", "PlantModelService"]
