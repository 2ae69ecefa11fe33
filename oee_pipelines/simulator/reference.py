"""Static reference frames of the plant, one per warehouse table (columns as in sql/001_foundation.sql).

Serial `id` columns and audit columns with a database default (`created_at`, `updated_at`) are
left out so the frames can be loaded as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from oee_pipelines.simulator.layout import PlantLayout

SOURCE_SYSTEM = "simulator"


@dataclass(frozen=True)
class ReasonCode:
    code: str
    category: str
    name: str
    is_planned: bool
    loss_category: str


# RUNNING is a state, not a reason; every stop in the log carries one of these codes.
REASON_CODES = (
    ReasonCode("OFF-SHIFT", "Planned stop", "Outside scheduled shifts", True, "planned_stop"),
    ReasonCode("BREAK", "Planned stop", "Scheduled break", True, "planned_stop"),
    ReasonCode("CHANGEOVER", "Planned stop", "Product changeover", True, "setup_adjustments"),
    ReasonCode("PLANNED-MAINT", "Planned stop", "Planned maintenance", True, "planned_stop"),
    ReasonCode("BRK-MECH", "Breakdown", "Mechanical failure", False, "breakdowns"),
    ReasonCode("BRK-ELEC", "Breakdown", "Electrical failure", False, "breakdowns"),
    ReasonCode("STARVED", "Idle", "Starved of material", False, "small_stops"),
    ReasonCode("ADJUST", "Setup", "Unplanned adjustment", False, "setup_adjustments"),
    ReasonCode("JAM", "Minor stop", "Jam", False, "small_stops"),
    ReasonCode("SPEED-LOSS", "Speed", "Running below ideal speed", False, "reduced_speed"),
    ReasonCode("REJECT-STARTUP", "Quality", "Rejects after a changeover", False, "startup_rejects"),
    ReasonCode("REJECT-PROCESS", "Quality", "Rejects in steady production", False, "production_rejects"),
)


def organizations(layout: PlantLayout) -> pd.DataFrame:
    description = layout.description
    return pd.DataFrame([{"id": description.organization_id, "name": description.organization_name}])


def sites(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    return pd.DataFrame(
        [
            {"id": s.id, "org_id": org_id, "name": s.spec.name, "timezone": s.spec.timezone}
            for s in layout.sites
        ]
    )


def lines(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    return pd.DataFrame(
        [
            {
                "id": li.id,
                "org_id": org_id,
                "site_id": li.site.id,
                "name": li.name,
                "code": li.code,
                "is_active": True,
            }
            for li in layout.lines
        ]
    )


def machines(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    rows = [
        {
            "id": m.id,
            "org_id": org_id,
            "line_id": m.line.id,
            "name": f"{m.line.name} {m.line.machine_type} {m.position}",
            "code": m.code,
            "machine_type": m.line.machine_type,
            "is_active": True,
        }
        for m in layout.machines
    ]
    return pd.DataFrame(rows)


def shifts(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    weekdays = list(layout.description.weekdays)
    rows = [
        {
            "id": s.id,
            "org_id": org_id,
            "site_id": s.site.id,
            "name": s.spec.name,
            "shift_number": s.number,
            "start_time": s.spec.start_time,
            "end_time": s.spec.end_time,
            "weekdays": weekdays,
        }
        for s in layout.shifts
    ]
    return pd.DataFrame(rows)


def shift_breaks(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    rows = [
        {
            "org_id": org_id,
            "shift_id": s.id,
            "name": b.name,
            "start_offset_minutes": b.start_offset_minutes,
            "duration_minutes": b.duration_minutes,
        }
        for s in layout.shifts
        for b in s.breaks
    ]
    return pd.DataFrame(
        rows, columns=["org_id", "shift_id", "name", "start_offset_minutes", "duration_minutes"]
    )


def operators(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    return pd.DataFrame(
        [{"id": o.id, "org_id": org_id, "name": o.name, "role": o.role} for o in layout.operators]
    )


def products(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    rows = [
        {"id": p.id, "org_id": org_id, "code": p.spec.code, "name": p.spec.name, "unit": p.spec.unit}
        for p in layout.products
    ]
    return pd.DataFrame(rows)


def recipes(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    rows = [
        {
            "id": r.id,
            "org_id": org_id,
            "product_id": r.product.id,
            "line_id": r.line_id,
            "name": f"{r.product.spec.name} on {r.line_id}",
            "version": r.product.spec.recipe_version,
            "ideal_cycle_time_s": r.product.spec.ideal_cycle_time_s,
            "target_cycle_time_s": r.product.spec.target_cycle_time_s,
            "parameters": json.dumps({"ideal_rate_ppm": round(60 / r.product.spec.ideal_cycle_time_s, 3)}),
            "source_system": SOURCE_SYSTEM,
        }
        for r in layout.recipes
    ]
    return pd.DataFrame(rows)


def reason_codes(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    rows = [
        {
            "org_id": org_id,
            "code": r.code,
            "category": r.category,
            "name": r.name,
            "is_planned": r.is_planned,
            "loss_category": r.loss_category,
        }
        for r in REASON_CODES
    ]
    return pd.DataFrame(rows)


def materials(layout: PlantLayout) -> pd.DataFrame:
    """A finished good per product and the packaging and raw materials they use."""
    org_id, prefix = layout.description.organization_id, layout.description.id_prefix
    currency = layout.sites[0].spec.currency
    items = [
        (f"FG-{p.spec.code}", p.spec.name, "FERT", p.spec.unit, 0.2 * p.spec.ideal_cycle_time_s)
        for p in layout.products
    ]
    items += [
        ("RM-PET-PREFORM", "PET preform", "ROH", "pcs", 0.04),
        ("RM-ALU-CAN", "Aluminium can body", "ROH", "pcs", 0.06),
        ("RM-CAP", "Closure cap", "ROH", "pcs", 0.01),
        ("PK-CARTON", "Corrugated carton", "VERP", "pcs", 0.25),
        ("RM-SYRUP", "Beverage syrup", "ROH", "l", 1.8),
    ]
    rows = [
        {
            "id": f"{prefix}MAT-{n + 1:03d}",
            "org_id": org_id,
            "material_number": number,
            "description": description,
            "material_type": material_type,
            "base_unit": unit,
            "unit_cost": round(cost, 4),
            "currency": currency,
            "source_system": SOURCE_SYSTEM,
        }
        for n, (number, description, material_type, unit, cost) in enumerate(items)
    ]
    return pd.DataFrame(rows)
