"""The records the MES/ERP simulator servers serve, and the state their push-back changes.

Records are plain dicts with our field names (each server renames them to its wire format):
- schedules: schedule_id, line_id, work_order_number, product_id, recipe_id, planned_start,
  planned_end, planned_quantity, status
- work_orders: work_order_number, line_id, product_id, recipe_id, planned_quantity,
  actual_quantity, status, planned_start, planned_end, actual_start, actual_end
- recipes: recipe_id, product_id, line_id, name, version, ideal_cycle_time_s,
  target_cycle_time_s, parameters (dict)
- materials: material_number, description, material_type, base_unit, unit_cost, currency
- labor_costs: line_id, cost_center, work_date, labor_hours, hourly_rate, labor_cost, currency
- consumption: work_order_number, line_id, material_number, planned_quantity,
  consumed_quantity, base_unit
- operator_assignments: operator_id, operator_name, role, line_id, shift_id, shift_date,
  start_time, end_time (who ran a line on one shift instance)

Plain dicts on purpose: tests put malformed records (a missing field, a word for a number)
in front of the connectors. The wire helpers at the end are shared by the MES/ERP servers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

import pandas as pd
from starlette.requests import Request

Record = dict[str, Any]

# Bill of materials per piece made, by material type: raw materials one per piece, one carton per 24.
PER_PIECE_BY_MATERIAL_TYPE = {"ROH": 1.0, "VERP": 1 / 24}
LITRES_PER_PIECE = 0.5


class PlantLike(Protocol):
    """The part of `SimulatedPlant` (docs/architecture.md) the servers are built from."""

    def schedules(self, start: Any, end: Any) -> pd.DataFrame: ...
    def work_orders(self, start: Any, end: Any) -> pd.DataFrame: ...
    def recipes(self) -> pd.DataFrame: ...
    def materials(self) -> pd.DataFrame: ...
    def labor_costs(self, start: Any, end: Any) -> pd.DataFrame: ...
    def operators(self) -> pd.DataFrame: ...
    def operator_shifts(self, start: Any, end: Any) -> pd.DataFrame: ...


@dataclass(frozen=True)
class StatusUpdate:
    work_order_number: str
    status: str
    actual_quantity: int | None


@dataclass
class SourceData:
    schedules: list[Record] = field(default_factory=list)
    work_orders: list[Record] = field(default_factory=list)
    recipes: list[Record] = field(default_factory=list)
    materials: list[Record] = field(default_factory=list)
    labor_costs: list[Record] = field(default_factory=list)
    consumption: list[Record] = field(default_factory=list)
    operator_assignments: list[Record] = field(default_factory=list)
    status_updates: list[StatusUpdate] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_records(
        cls,
        *,
        schedules: Iterable[Record] = (),
        work_orders: Iterable[Record] = (),
        recipes: Iterable[Record] = (),
        materials: Iterable[Record] = (),
        labor_costs: Iterable[Record] = (),
        consumption: Iterable[Record] = (),
        operator_assignments: Iterable[Record] = (),
    ) -> SourceData:
        """Copies of small literal records (tests)."""
        return cls(
            schedules=[dict(r) for r in schedules],
            work_orders=[dict(r) for r in work_orders],
            recipes=[dict(r) for r in recipes],
            materials=[dict(r) for r in materials],
            labor_costs=[dict(r) for r in labor_costs],
            consumption=[dict(r) for r in consumption],
            operator_assignments=[dict(r) for r in operator_assignments],
        )

    @classmethod
    def from_plant(cls, plant: PlantLike, start: Any, end: Any) -> SourceData:
        """What the plant's MES and ERP would hold for [start, end)."""
        orders = plant.work_orders(start, end)
        materials = plant.materials()
        numbers = dict(zip(orders["id"], orders["wo_number"], strict=True))
        return cls(
            schedules=[_schedule_record(row, numbers) for row in _rows(plant.schedules(start, end))],
            work_orders=[_work_order_record(row) for row in _rows(orders)],
            recipes=[_recipe_record(row) for row in _rows(plant.recipes())],
            materials=[_pick(row, MATERIAL_FIELDS) for row in _rows(materials)],
            labor_costs=[_labor_record(row) for row in _rows(plant.labor_costs(start, end))],
            consumption=_consumption_records(orders, materials),
            operator_assignments=_operator_assignment_records(plant, start, end),
        )

    def work_order(self, work_order_number: str) -> Record | None:
        with self._lock:
            return next(
                (o for o in self.work_orders if o.get("work_order_number") == work_order_number), None
            )

    def recipe(self, recipe_id: str) -> Record | None:
        return next((r for r in self.recipes if r.get("recipe_id") == recipe_id), None)

    def schedules_of_line(self, line_id: str, start: datetime, end: datetime) -> list[Record]:
        """A line's schedule entries overlapping [start, end); records with unreadable times included."""
        return [s for s in self.schedules if s.get("line_id") == line_id and _overlaps(s, start, end)]

    def operator_assignments_between(self, start: datetime, end: datetime) -> list[Record]:
        """Assignments overlapping [start, end); records with unreadable times included."""
        return [a for a in self.operator_assignments if _overlaps(a, start, end, ("start_time", "end_time"))]

    def consumption_of(self, work_order_number: str) -> list[Record]:
        return [c for c in self.consumption if c.get("work_order_number") == work_order_number]

    def labor_costs_of_line(self, line_id: str, start: date, end: date) -> list[Record]:
        """A line's labour records with start <= work_date < end."""
        return [
            r
            for r in self.labor_costs
            if r.get("line_id") == line_id and not (_is_date(r) and not start <= r["work_date"] < end)
        ]

    def apply_status_update(self, work_order_number: str, status: str, actual_quantity: int | None) -> bool:
        """Record a push-back and change the work order; False if the order does not exist."""
        with self._lock:
            order = next(
                (o for o in self.work_orders if o.get("work_order_number") == work_order_number), None
            )
            if order is None:
                return False
            order["status"] = status
            order["actual_quantity"] = actual_quantity
            self.status_updates.append(StatusUpdate(work_order_number, status, actual_quantity))
            return True


MATERIAL_FIELDS = ("material_number", "description", "material_type", "base_unit", "unit_cost", "currency")


def _rows(frame: pd.DataFrame) -> list[Record]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if value is None or (not isinstance(value, (str, dict, list)) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _pick(row: Record, names: Iterable[str]) -> Record:
    return {name: row.get(name) for name in names}


def _schedule_record(row: Record, numbers: dict[str, str]) -> Record:
    return {
        "schedule_id": row["external_id"],
        "work_order_number": numbers.get(row["work_order_id"]),
        **_pick(
            row, ("line_id", "product_id", "recipe_id", "planned_start", "planned_end", "planned_quantity")
        ),
        "status": row["status"],
    }


def _work_order_record(row: Record) -> Record:
    names = ("line_id", "product_id", "recipe_id", "planned_quantity", "actual_quantity", "status")
    times = ("planned_start", "planned_end", "actual_start", "actual_end")
    return {"work_order_number": row["wo_number"], **_pick(row, names + times)}


def _recipe_record(row: Record) -> Record:
    names = ("product_id", "line_id", "name", "version", "ideal_cycle_time_s", "target_cycle_time_s")
    return {"recipe_id": row["id"], **_pick(row, names), "parameters": json.loads(row["parameters"] or "{}")}


def _labor_record(row: Record) -> Record:
    names = ("line_id", "cost_center", "labor_hours", "hourly_rate", "labor_cost", "currency")
    return {**_pick(row, names), "work_date": pd.Timestamp(row["work_date"]).date()}


def _consumption_records(orders: pd.DataFrame, materials: pd.DataFrame) -> list[Record]:
    """Every order uses each raw and packaging material; consumption runs 2 % over plan."""
    used = materials[materials["material_type"].isin(list(PER_PIECE_BY_MATERIAL_TYPE))]
    records = []
    for order in orders.itertuples(index=False):
        for material in used.itertuples(index=False):
            per_piece = (
                LITRES_PER_PIECE
                if material.base_unit != "pcs"
                else PER_PIECE_BY_MATERIAL_TYPE[material.material_type]
            )
            planned = round(order.planned_quantity * per_piece, 3)
            records.append(
                {
                    "work_order_number": order.wo_number,
                    "line_id": order.line_id,
                    "material_number": material.material_number,
                    "planned_quantity": planned,
                    "consumed_quantity": round(planned * 1.02, 3),
                    "base_unit": material.base_unit,
                }
            )
    return records


def _operator_assignment_records(plant: PlantLike, start: Any, end: Any) -> list[Record]:
    """Who ran each line on each shift instance of [start, end), with the operator's name."""
    names = dict(zip(plant.operators()["id"], plant.operators()["name"], strict=True))
    return [
        {
            "operator_id": row["operator_id"],
            "operator_name": names.get(row["operator_id"]),
            **_pick(row, ("role", "line_id", "shift_id")),
            "shift_date": pd.Timestamp(row["shift_date"]).date(),
            **_pick(row, ("start_time", "end_time")),
        }
        for row in _rows(plant.operator_shifts(start, end))
    ]


def _overlaps(
    record: Record, start: datetime, end: datetime, fields: tuple[str, str] = ("planned_start", "planned_end")
) -> bool:
    begin, finish = record.get(fields[0]), record.get(fields[1])
    if not isinstance(begin, datetime) or not isinstance(finish, datetime):
        return True
    return begin < end and finish > start


def _is_date(record: Record) -> bool:
    return isinstance(record.get("work_date"), date)


def json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: json_value(v) for k, v in value.items()}
    return value


def renamed(record: Record, names: Mapping[str, str]) -> Record:
    """Our field names -> the wire's, values JSON-safe."""
    return {names.get(name, name): json_value(value) for name, value in record.items()}


def page_of(records: Sequence[Record], offset: int, limit: int) -> tuple[list[Record], int | None]:
    """One page and the offset of the next page (None on the last page)."""
    page = list(records[offset : offset + limit])
    next_offset = offset + limit if offset + limit < len(records) else None
    return page, next_offset


def int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    return int(value) if value and value.isdigit() else default
