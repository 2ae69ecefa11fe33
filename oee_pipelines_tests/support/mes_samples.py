"""Small literal MES/ERP records for the connector and simulator-server tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from oee_pipelines.simulator.servers.source_data import Record, SourceData

DAY = datetime(2025, 1, 13, tzinfo=UTC)
# A tiny retry policy (backoff 0.01 s) for connector configs, so retry tests stay fast.
FAST_RETRIES: dict[str, object] = {
    "retry_attempts": 4,
    "backoff_initial_seconds": 0.01,
    "backoff_max_seconds": 0.05,
}
LINE = "LINE-001"


def schedule(n: int, **changes: object) -> Record:
    start = DAY + timedelta(hours=2 * n)
    record: Record = {
        "schedule_id": f"SCH-{n:03d}",
        "line_id": LINE,
        "work_order_number": f"WO-{n:06d}",
        "product_id": "PROD-001",
        "recipe_id": "RCP-001",
        "planned_start": start,
        "planned_end": start + timedelta(hours=2),
        "planned_quantity": 1000 + n,
        "status": "scheduled",
    }
    return {**record, **changes}


def work_order(n: int, **changes: object) -> Record:
    start = DAY + timedelta(hours=2 * n)
    record: Record = {
        "work_order_number": f"WO-{n:06d}",
        "line_id": LINE,
        "product_id": "PROD-001",
        "recipe_id": "RCP-001",
        "planned_quantity": 1000 + n,
        "actual_quantity": None,
        "status": "released",
        "planned_start": start,
        "planned_end": start + timedelta(hours=2),
        "actual_start": None,
        "actual_end": None,
    }
    return {**record, **changes}


RECIPE: Record = {
    "recipe_id": "RCP-001",
    "product_id": "PROD-001",
    "line_id": LINE,
    "name": "Bottle 500 ml on LINE-001",
    "version": "3.2",
    "ideal_cycle_time_s": 1.5,
    "target_cycle_time_s": 1.7,
    "parameters": {"ideal_rate_ppm": 40.0},
}

MATERIALS: list[Record] = [
    {
        "material_number": f"RM-{n:03d}",
        "description": f"Raw material {n}",
        "material_type": "ROH",
        "base_unit": "pcs",
        "unit_cost": 0.05 * n,
        "currency": "EUR",
    }
    for n in range(1, 6)
]


def consumption(order: int, material: int, **changes: object) -> Record:
    record: Record = {
        "work_order_number": f"WO-{order:06d}",
        "line_id": LINE,
        "material_number": f"RM-{material:03d}",
        "planned_quantity": 1000.0,
        "consumed_quantity": 1020.5,
        "base_unit": "pcs",
    }
    return {**record, **changes}


def labor_cost(day: int, cost_center: str = "CC-L001-PROD", **changes: object) -> Record:
    record: Record = {
        "line_id": LINE,
        "cost_center": cost_center,
        "work_date": date(2025, 1, 13 + day),
        "labor_hours": 24.0,
        "hourly_rate": 42.5,
        "labor_cost": 1020.0,
        "currency": "EUR",
    }
    return {**record, **changes}


def sample_source_data() -> SourceData:
    """Five schedules and orders on LINE-001, one recipe, five materials, consumption, labour."""
    return SourceData.from_records(
        schedules=[schedule(n) for n in range(1, 6)],
        work_orders=[work_order(n) for n in range(1, 6)],
        recipes=[RECIPE],
        materials=MATERIALS,
        consumption=[consumption(1, m) for m in range(1, 4)],
        labor_costs=[labor_cost(d) for d in range(3)] + [labor_cost(d, "CC-L001-MAINT") for d in range(3)],
    )
