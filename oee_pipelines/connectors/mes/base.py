"""The MES connector interface and the MES entities (schedules, work orders, recipes, consumption,
operator assignments).

Every MES implementation reads the source's records, renames their fields to ours (the
`field_mappings` of the config), and hands them to `build_result` with one of the entities below,
so all MES systems return the same warehouse columns and reject malformed records the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from oee_pipelines.connectors.errors import SourceDataError
from oee_pipelines.connectors.mes.records import (
    Entity,
    FetchResult,
    FieldSpec,
    InvalidField,
    OrderStatus,
    RowContext,
    check_planned_window,
    fetch_each,
    parse_count,
    parse_date,
    parse_json_object,
    parse_non_negative,
    parse_positive,
    parse_status,
    parse_text,
    parse_timestamp,
)

SCHEDULE_COLUMNS = (
    "org_id", "external_id", "line_id", "work_order_id", "product_id", "recipe_id",
    "planned_start", "planned_end", "planned_quantity", "status", "source_system",
)  # fmt: skip
WORK_ORDER_COLUMNS = (
    "id", "org_id", "wo_number", "product_id", "recipe_id", "line_id", "planned_quantity",
    "actual_quantity", "status", "planned_start", "planned_end", "actual_start", "actual_end",
    "source_system",
)  # fmt: skip
RECIPE_COLUMNS = (
    "id", "org_id", "product_id", "line_id", "name", "version", "ideal_cycle_time_s",
    "target_cycle_time_s", "parameters", "source_system",
)  # fmt: skip
CONSUMPTION_COLUMNS = (
    "org_id", "work_order_id", "wo_number", "line_id", "material_number", "planned_quantity",
    "consumed_quantity", "base_unit", "source_system",
)  # fmt: skip

OPERATOR_ASSIGNMENT_COLUMNS = (
    "org_id", "operator_id", "operator_name", "role", "line_id", "shift_id", "shift_date",
    "start_time", "end_time", "source_system",
)  # fmt: skip

_UTC = "datetime64[ns, UTC]"


def _schedule_row(parsed: dict[str, Any], context: RowContext) -> dict[str, Any]:
    order = parsed["work_order_number"]
    return {
        "org_id": context.org_id,
        "external_id": parsed["schedule_id"],
        "line_id": parsed["line_id"],
        "work_order_id": f"{context.id_prefix}{order}" if order else None,
        "product_id": parsed["product_id"],
        "recipe_id": parsed["recipe_id"],
        "planned_start": parsed["planned_start"],
        "planned_end": parsed["planned_end"],
        "planned_quantity": parsed["planned_quantity"],
        "status": parsed["status"] or "scheduled",
        "source_system": context.source_system,
    }


SCHEDULE = Entity(
    name="production_schedule",
    key_field="schedule_id",
    fields=(
        FieldSpec("schedule_id", parse_text),
        FieldSpec("line_id", parse_text),
        FieldSpec("work_order_number", parse_text, required=False),
        FieldSpec("product_id", parse_text, required=False),
        FieldSpec("recipe_id", parse_text, required=False),
        FieldSpec("planned_start", parse_timestamp),
        FieldSpec("planned_end", parse_timestamp),
        FieldSpec("planned_quantity", parse_count),
        FieldSpec("status", parse_text, required=False),
    ),
    columns=SCHEDULE_COLUMNS,
    to_row=_schedule_row,
    dtypes={"planned_start": _UTC, "planned_end": _UTC, "planned_quantity": "int64"},
    check=check_planned_window,
)


def _work_order_row(parsed: dict[str, Any], context: RowContext) -> dict[str, Any]:
    number = parsed["work_order_number"]
    return {
        "id": f"{context.id_prefix}{number}",
        "org_id": context.org_id,
        "wo_number": number,
        **{name: parsed[name] for name in WORK_ORDER_COLUMNS[3:-1]},
        "source_system": context.source_system,
    }


WORK_ORDER = Entity(
    name="work_order",
    key_field="work_order_number",
    fields=(
        FieldSpec("work_order_number", parse_text),
        FieldSpec("product_id", parse_text),
        FieldSpec("recipe_id", parse_text, required=False),
        FieldSpec("line_id", parse_text),
        FieldSpec("planned_quantity", parse_count),
        FieldSpec("actual_quantity", parse_count, required=False),
        FieldSpec("status", parse_status),
        FieldSpec("planned_start", parse_timestamp),
        FieldSpec("planned_end", parse_timestamp),
        FieldSpec("actual_start", parse_timestamp, required=False),
        FieldSpec("actual_end", parse_timestamp, required=False),
    ),
    columns=WORK_ORDER_COLUMNS,
    to_row=_work_order_row,
    dtypes={
        "planned_quantity": "int64",
        "actual_quantity": "Int64",
        **{name: _UTC for name in ("planned_start", "planned_end", "actual_start", "actual_end")},
    },
    check=check_planned_window,
)


def _recipe_row(parsed: dict[str, Any], context: RowContext) -> dict[str, Any]:
    return {
        "id": parsed["recipe_id"],
        "org_id": context.org_id,
        **{name: parsed[name] for name in RECIPE_COLUMNS[2:-1]},
        "parameters": parsed["parameters"] or "{}",
        "source_system": context.source_system,
    }


RECIPE = Entity(
    name="recipe",
    key_field="recipe_id",
    fields=(
        FieldSpec("recipe_id", parse_text),
        FieldSpec("product_id", parse_text),
        FieldSpec("line_id", parse_text, required=False),
        FieldSpec("name", parse_text),
        FieldSpec("version", parse_text),
        FieldSpec("ideal_cycle_time_s", parse_positive),
        FieldSpec("target_cycle_time_s", parse_positive),
        FieldSpec("parameters", parse_json_object, required=False),
    ),
    columns=RECIPE_COLUMNS,
    to_row=_recipe_row,
)


def _consumption_row(parsed: dict[str, Any], context: RowContext) -> dict[str, Any]:
    number = parsed["work_order_number"]
    return {
        "org_id": context.org_id,
        "work_order_id": f"{context.id_prefix}{number}",
        "wo_number": number,
        **{name: parsed[name] for name in CONSUMPTION_COLUMNS[3:-1]},
        "source_system": context.source_system,
    }


CONSUMPTION = Entity(
    name="material_consumption",
    key_field="material_number",
    fields=(
        FieldSpec("work_order_number", parse_text),
        FieldSpec("line_id", parse_text, required=False),
        FieldSpec("material_number", parse_text),
        FieldSpec("planned_quantity", parse_non_negative),
        FieldSpec("consumed_quantity", parse_non_negative),
        FieldSpec("base_unit", parse_text),
    ),
    columns=CONSUMPTION_COLUMNS,
    to_row=_consumption_row,
    dtypes={"planned_quantity": "float64", "consumed_quantity": "float64"},
)


def _operator_assignment_row(parsed: dict[str, Any], context: RowContext) -> dict[str, Any]:
    return {
        "org_id": context.org_id,
        **{name: parsed[name] for name in OPERATOR_ASSIGNMENT_COLUMNS[1:-1]},
        "source_system": context.source_system,
    }


def _check_shift_times(parsed: dict[str, Any]) -> None:
    if parsed["end_time"] <= parsed["start_time"]:
        raise InvalidField("end_time", "must be after start_time")


OPERATOR_ASSIGNMENT = Entity(
    name="operator_assignment",
    key_field="operator_id",
    fields=(
        FieldSpec("operator_id", parse_text),
        FieldSpec("operator_name", parse_text),
        FieldSpec("role", parse_text),
        FieldSpec("line_id", parse_text),
        FieldSpec("shift_id", parse_text),
        FieldSpec("shift_date", parse_date),
        FieldSpec("start_time", parse_timestamp),
        FieldSpec("end_time", parse_timestamp),
    ),
    columns=OPERATOR_ASSIGNMENT_COLUMNS,
    to_row=_operator_assignment_row,
    dtypes={"start_time": _UTC, "end_time": _UTC},
    check=_check_shift_times,
)


def order_status_of(work_order: FetchResult, system: str, work_order_number: str) -> OrderStatus:
    """The status and quantity of a fetched work order, for deciding whether to push back."""
    if work_order.frame.empty:
        reasons = "; ".join(f"{r.field}: {r.reason}" for r in work_order.rejected) or "not returned"
        raise SourceDataError(system, "update_order_status", f"work order {work_order_number}: {reasons}")
    row = work_order.frame.iloc[0]
    quantity = row["actual_quantity"]
    return OrderStatus(str(row["status"]), None if pd.isna(quantity) else int(quantity))


class MESConnector(ABC):
    """What the pipeline asks of any MES; each method names the warehouse table it fills."""

    @abstractmethod
    def get_production_schedules(self, line_id: str, start: datetime, end: datetime) -> FetchResult:
        """Schedule entries of a line overlapping [start, end) -> `production_schedules` columns."""

    @abstractmethod
    def get_work_order(self, work_order_number: str) -> FetchResult:
        """One work order -> `work_orders` columns (one row, or none if the record is rejected)."""

    def get_work_orders(self, work_order_numbers: Sequence[str], *, parallel: int) -> FetchResult:
        """Many work orders, one `get_work_order` each, `parallel` at a time; a number the MES does not
        have is rejected by its key, any other failure propagates."""
        return fetch_each(
            self.get_work_order,
            work_order_numbers,
            entity=WORK_ORDER.name,
            key_field=WORK_ORDER.key_field,
            columns=WORK_ORDER_COLUMNS,
            parallel=parallel,
        )

    @abstractmethod
    def download_recipe(self, recipe_id: str) -> FetchResult:
        """One recipe -> `recipes` columns."""

    @abstractmethod
    def update_order_status(self, work_order_number: str, status: str, actual_quantity: int | None) -> bool:
        """Push status and quantity back; False when the MES already holds them (nothing sent)."""

    @abstractmethod
    def get_material_consumption(self, line_id: str, work_order_number: str) -> FetchResult:
        """Material consumed by a work order -> `CONSUMPTION_COLUMNS`."""

    @abstractmethod
    def get_operator_assignments(self, start: datetime, end: datetime) -> FetchResult:
        """Who ran which line on the shift instances overlapping [start, end) ->
        `OPERATOR_ASSIGNMENT_COLUMNS` (operator id, name, role, line, shift, shift date, start, end)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> MESConnector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
