"""Production schedule imports: one planned run per row, landed in the `production_schedules` columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from oee_pipelines.domain.imports.engine import Checked, ColumnSpec, ImportSpec, require_end_after_start
from oee_pipelines.domain.imports.model import ImportReference

SOURCE_SYSTEM = "import"
DEFAULT_STATUS = "scheduled"
SCHEDULE_COLUMNS = [
    "org_id",
    "external_id",
    "line_id",
    "work_order_id",
    "product_id",
    "recipe_id",
    "planned_start",
    "planned_end",
    "planned_quantity",
    "status",
    "source_system",
]


def _check_rows(checked: Checked) -> None:
    require_end_after_start(checked, "planned_start", "planned_end")
    quantity = checked.parsed["planned_quantity"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        negative = np.isfinite(quantity) & (quantity < 0)
    checked.problems.add(
        negative, "planned_quantity", checked.raw["planned_quantity"], "must not be negative"
    )


def _land(
    valid: pd.DataFrame, reference: ImportReference, file_name: str, run_id: str | None
) -> pd.DataFrame:
    valid = valid.reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "org_id": reference.org_id,
            "external_id": valid["external_id"],
            "line_id": valid["line_id"],
            "work_order_id": valid["work_order_id"],
            "product_id": valid["product_id"],
            "recipe_id": valid["recipe_id"],
            "planned_start": valid["planned_start"],
            "planned_end": valid["planned_end"],
            "planned_quantity": valid["planned_quantity"].astype(np.int64),
            "status": valid["status"].fillna(DEFAULT_STATUS),
            "source_system": SOURCE_SYSTEM,
        }
    )
    return frame[SCHEDULE_COLUMNS]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=SCHEDULE_COLUMNS)


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True)


SCHEDULE: ImportSpec[pd.DataFrame] = ImportSpec(
    kind="schedule",
    columns=(
        ColumnSpec("external_id", required=True),
        ColumnSpec("line_id", required=True, known_in="line_ids"),
        ColumnSpec("work_order_id", known_in="work_order_ids"),
        ColumnSpec("product_id", known_in="product_ids"),
        ColumnSpec("recipe_id", known_in="recipe_ids"),
        ColumnSpec("planned_start", "timestamp", required=True),
        ColumnSpec("planned_end", "timestamp", required=True),
        ColumnSpec("planned_quantity", "whole_number", required=True),
        ColumnSpec("status"),
    ),
    key=(("external_id", "external_id"),),
    check_rows=_check_rows,
    land=_land,
    empty_landing=_empty,
    # Rows are compared only for duplicate external ids, which are found across slices.
    row_local=True,
    combine_landed=_combine,
)
