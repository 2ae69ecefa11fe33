"""The ideal cycle time of a reading: machine and product (plant model) > product default > MES recipe."""

from __future__ import annotations

import pandas as pd

from oee_pipelines.domain.enrichment import build_context, enrich_telemetry
from oee_pipelines_tests.support.telemetry_rows import counter, utc


def _context(machine_cycle_times: pd.DataFrame | None, products: pd.DataFrame | None):
    schedules = pd.DataFrame(
        {
            "external_id": ["S-1", "S-2"],
            "line_id": "L1",
            "work_order_id": ["WO-1", "WO-2"],
            "product_id": ["P1", "P2"],
            "recipe_id": ["R1", "R2"],
            "planned_start": [utc("2025-01-06 06:00"), utc("2025-01-06 09:00")],
            "planned_end": [utc("2025-01-06 09:00"), utc("2025-01-06 12:00")],
            "planned_quantity": [100, 100],
            "status": "released",
        }
    )
    work_orders = pd.DataFrame(
        {
            "id": ["WO-1", "WO-2"],
            "wo_number": ["1", "2"],
            "product_id": ["P1", "P2"],
            "recipe_id": ["R1", "R2"],
        }
    )
    recipes = pd.DataFrame(
        {
            "id": ["R1", "R2"],
            "product_id": ["P1", "P2"],
            "version": "1",
            "ideal_cycle_time_s": [30.0, 20.0],
            "target_cycle_time_s": [33.0, 22.0],
        }
    )
    empty_shifts = pd.DataFrame(columns=["line_id", "shift_id", "shift_number", "shift_date", "start", "end"])
    empty_crews = pd.DataFrame(
        columns=["line_id", "shift_id", "operator_id", "role", "start_time", "end_time"]
    )
    return build_context(
        schedules=schedules,
        work_orders=work_orders,
        recipes=recipes,
        line_shifts=empty_shifts,
        operator_shifts=empty_crews,
        machines=pd.DataFrame({"id": ["M1", "M2"], "line_id": ["L1", "L1"]}),
        machine_cycle_times=machine_cycle_times,
        products=products,
    )


def _ideal(context, machine: str, ts: str) -> float | None:
    frame = pd.DataFrame([counter(machine, ts, 1, signal="temperature")]).assign(
        site_id="S", line_id="L1", unit=None, ingest_run_id="run"
    )
    return enrich_telemetry(frame, context).table["ideal_cycle_time_s"][0].as_py()


def test_machine_time_wins_over_product_default_which_wins_over_the_recipe() -> None:
    per_machine = pd.DataFrame(
        {
            "machine_id": ["M1"],
            "product_id": ["P1"],
            "ideal_cycle_time_seconds": [12.0],
            "source": "plant_model",
        }
    )
    products = pd.DataFrame({"id": ["P1", "P2"], "ideal_cycle_time_seconds": [25.0, None]})
    context = _context(per_machine, products)
    assert _ideal(context, "M1", "2025-01-06 07:00") == 12.0  # machine and product
    assert _ideal(context, "M2", "2025-01-06 07:00") == 25.0  # product default
    assert _ideal(context, "M2", "2025-01-06 10:00") == 20.0  # MES recipe
    assert _ideal(_context(None, None), "M1", "2025-01-06 07:00") == 30.0
