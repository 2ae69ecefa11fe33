"""The ERP connector interface, the ERP entities (materials, labour costs), and production variance.

Work orders and material consumption use the MES entities (`connectors.mes.base`), so an order
read from an ERP has the same columns as one read from a MES.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import Any

import pandas as pd

from oee_pipelines.connectors.mes.records import (
    Entity,
    FetchResult,
    FieldSpec,
    RowContext,
    parse_date,
    parse_non_negative,
    parse_text,
)

MATERIAL_COLUMNS = (
    "id", "org_id", "material_number", "description", "material_type", "base_unit", "unit_cost",
    "currency", "source_system",
)  # fmt: skip
LABOR_COST_COLUMNS = (
    "org_id", "line_id", "cost_center", "work_date", "labor_hours", "hourly_rate", "labor_cost",
    "currency", "source_system",
)  # fmt: skip
VARIANCE_COLUMNS = (
    "org_id", "wo_number", "item", "unit", "planned_quantity", "actual_quantity", "variance_quantity",
    "variance_pct",
)  # fmt: skip
YIELD_ITEM = "yield"


def _material_row(parsed: dict[str, Any], context: RowContext) -> dict[str, Any]:
    number = parsed["material_number"]
    return {
        "id": f"{context.id_prefix}{number}",
        "org_id": context.org_id,
        **{name: parsed[name] for name in MATERIAL_COLUMNS[2:-1]},
        "source_system": context.source_system,
    }


MATERIAL = Entity(
    name="material",
    key_field="material_number",
    fields=(
        FieldSpec("material_number", parse_text),
        FieldSpec("description", parse_text),
        FieldSpec("material_type", parse_text, required=False),
        FieldSpec("base_unit", parse_text),
        FieldSpec("unit_cost", parse_non_negative, required=False),
        FieldSpec("currency", parse_text, required=False),
    ),
    columns=MATERIAL_COLUMNS,
    to_row=_material_row,
    dtypes={"unit_cost": "float64"},
)


def _labor_row(parsed: dict[str, Any], context: RowContext) -> dict[str, Any]:
    return {
        "org_id": context.org_id,
        **{name: parsed[name] for name in LABOR_COST_COLUMNS[1:-1]},
        "currency": parsed["currency"] or "EUR",
        "source_system": context.source_system,
    }


LABOR_COST = Entity(
    name="labor_cost",
    key_field="cost_center",
    fields=(
        FieldSpec("line_id", parse_text),
        FieldSpec("cost_center", parse_text),
        FieldSpec("work_date", parse_date),
        FieldSpec("labor_hours", parse_non_negative),
        FieldSpec("hourly_rate", parse_non_negative),
        FieldSpec("labor_cost", parse_non_negative),
        FieldSpec("currency", parse_text, required=False),
    ),
    columns=LABOR_COST_COLUMNS,
    to_row=_labor_row,
    dtypes={"labor_hours": "float64", "hourly_rate": "float64", "labor_cost": "float64"},
)


def production_variance(work_order: pd.DataFrame, consumption: pd.DataFrame) -> pd.DataFrame:
    """Planned against actual for one order: its yield, then each material it consumed.

    `work_order` has `work_orders` columns (one row); `consumption` the consumption columns.
    `variance_pct` is NULL where nothing was planned; yield variance is NULL until a quantity is confirmed.
    """
    rows = []
    for order in work_order.itertuples(index=False):
        actual = None if pd.isna(order.actual_quantity) else float(order.actual_quantity)
        rows.append(
            _variance_row(order.org_id, order.wo_number, YIELD_ITEM, None, order.planned_quantity, actual)
        )
    for item in consumption.itertuples(index=False):
        rows.append(
            _variance_row(
                item.org_id,
                item.wo_number,
                item.material_number,
                item.base_unit,
                item.planned_quantity,
                item.consumed_quantity,
            )
        )
    frame = pd.DataFrame(rows, columns=list(VARIANCE_COLUMNS))
    return frame.astype({name: "float64" for name in VARIANCE_COLUMNS[4:]})


def _variance_row(
    org_id: str, wo_number: str, item: str, unit: str | None, planned: float, actual: float | None
) -> dict[str, Any]:
    variance = None if actual is None else actual - float(planned)
    pct = None if variance is None or not planned else round(100.0 * variance / float(planned), 3)
    return {
        "org_id": org_id,
        "wo_number": wo_number,
        "item": item,
        "unit": unit,
        "planned_quantity": float(planned),
        "actual_quantity": actual,
        "variance_quantity": variance,
        "variance_pct": pct,
    }


class ERPConnector(ABC):
    """What the pipeline asks of any ERP; each method names the warehouse table it fills."""

    @abstractmethod
    def get_materials(self) -> FetchResult:
        """The material master -> `materials` columns."""

    @abstractmethod
    def get_labor_costs(self, line_id: str, start_date: date, end_date: date) -> FetchResult:
        """Labour per cost centre and day, start_date <= work_date < end_date -> `labor_costs` columns."""

    @abstractmethod
    def get_work_order(self, work_order_number: str) -> FetchResult:
        """The ERP's production order -> `work_orders` columns."""

    @abstractmethod
    def get_inventory_consumption(self, work_order_number: str) -> FetchResult:
        """Components planned and issued for an order -> consumption columns."""

    @abstractmethod
    def update_order_status(self, work_order_number: str, status: str, actual_quantity: int | None) -> bool:
        """Confirm status and yield back; False when the ERP already holds them (nothing sent)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def get_production_variance(self, work_order_number: str) -> FetchResult:
        """Yield and material usage variance of one order (`VARIANCE_COLUMNS`)."""
        order = self.get_work_order(work_order_number)
        consumption = self.get_inventory_consumption(work_order_number)
        return FetchResult(
            production_variance(order.frame, consumption.frame), [*order.rejected, *consumption.rejected]
        )

    def __enter__(self) -> ERPConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
