"""The resource of the plant reference data: the plant model file.

`PlantModelResource` wraps `services/plant/` (the only writer of the plant tables) for the `plant_model`
asset. The operator roster is not plant reference data: it comes from the MES with the operator
assignments (`operator_shifts`, `services/mes_erp/operators.py`).
"""

from pathlib import Path

import dagster as dg

from oee_pipelines.domain.plant_model import PlantModel, parse_plant_model
from oee_pipelines.services.plant import ApplyReport, PlantModelService


class PlantModelResource(dg.ConfigurableResource):
    """The plant model file to apply (`OEE_PLANT_MODEL_FILE`); unset: the asset reports the current model."""

    model_file: str | None = None

    def read_model(self) -> PlantModel | None:
        """The file's validated model, or None when no file is configured (raises `PlantModelError`)."""
        if not self.model_file:
            return None
        return parse_plant_model(Path(self.model_file).read_text(encoding="utf-8"))

    def service(self, database_url: str) -> PlantModelService:
        return PlantModelService(database_url)

    def apply(self, database_url: str, model: PlantModel) -> ApplyReport:
        return self.service(database_url).apply(model)
