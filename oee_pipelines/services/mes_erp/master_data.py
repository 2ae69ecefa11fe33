"""Master data the MES holds: the products its recipes name and their ideal cycle times.

The plant service (`services/plant/`) is the only writer of `products`, `machines` and
`machine_cycle_times`; this module turns synced recipes into master-data rows and hands them to
`PlantModelService.upsert_master_data`, which applies the plant model's precedence (the plant
model wins wherever both define a field):

- a product a recipe names and the warehouse lacks is added with `source = 'mes'` (`id` and
  `code` the MES's product id, `name` the same, unit `pcs`); a plant-model product is never
  changed;
- a recipe's ideal cycle time becomes a `machine_cycle_times` row with `source = 'mes'` for every
  active machine of the recipe's line (every active machine of the organization when the recipe
  names no line), unless the plant model gives that machine and product a time of its own or
  gives the product a default (`products.ideal_cycle_time_seconds`). Several recipes for one
  machine and product: the shortest ideal cycle time. A later sync updates the MES's own rows.

Machines: the MES connectors (`custom_rest`, `soap`) and their simulators expose no work centres,
so machines come from the plant model only. Materials come from the ERP (`erp.py`, table
`materials`), which the plant model does not describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from oee_pipelines.services.mes_erp.store import Warehouse
from oee_pipelines.services.plant.service import MES_SOURCE, PlantModelService

DEFAULT_UNIT = "pcs"


@dataclass
class MasterDataCounts:
    """What the MES master data changed, over every organization of the recipes."""

    products_created: int = 0
    products_updated: int = 0
    cycle_times_written: int = 0
    cycle_times_removed: int = 0
    rejected: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {
            "products_created": self.products_created,
            "products_updated": self.products_updated,
            "mes_cycle_times_written": self.cycle_times_written,
            "mes_cycle_times_removed": self.cycle_times_removed,
            "master_data_rejected": len(self.rejected),
        }


def products_from_recipes(recipes: pd.DataFrame) -> pd.DataFrame:
    """One product row per product id the recipes name (`products` columns)."""
    named = recipes[["org_id", "product_id"]].dropna().drop_duplicates().sort_values(["org_id", "product_id"])
    return pd.DataFrame(
        {
            "id": named["product_id"].astype(str),
            "org_id": named["org_id"].astype(str),
            "code": named["product_id"].astype(str),
            "name": named["product_id"].astype(str),
            "unit": DEFAULT_UNIT,
        }
    ).reset_index(drop=True)


def cycle_times_from_recipes(recipes: pd.DataFrame, machines: pd.DataFrame) -> pd.DataFrame:
    """The MES's ideal cycle time per machine and product (`machine_cycle_times` columns).

    `machines` has `id, org_id, line_id` (active machines). A recipe applies to the machines of
    its line, or to every machine of its organization when it names no line; several recipes for
    one machine and product give the shortest cycle time.
    """
    columns = ["org_id", "machine_id", "product_id", "ideal_cycle_time_seconds"]
    if recipes.empty or machines.empty:
        return pd.DataFrame(columns=columns)
    wanted = recipes[["org_id", "product_id", "line_id", "ideal_cycle_time_s"]]
    machine_rows = machines.rename(columns={"id": "machine_id"})[["org_id", "machine_id", "line_id"]]
    on_line = wanted[wanted["line_id"].notna()].merge(machine_rows, on=["org_id", "line_id"])
    anywhere = (
        wanted[wanted["line_id"].isna()]
        .drop(columns="line_id")
        .merge(machine_rows.drop(columns="line_id"), on="org_id")
    )
    pairs = pd.concat([on_line.drop(columns="line_id"), anywhere], ignore_index=True)
    if pairs.empty:
        return pd.DataFrame(columns=columns)
    pairs["ideal_cycle_time_seconds"] = pairs["ideal_cycle_time_s"].astype(float)
    shortest = pairs.groupby(["org_id", "machine_id", "product_id"], as_index=False)[
        "ideal_cycle_time_seconds"
    ].min()
    return shortest[columns].sort_values(columns[:3]).reset_index(drop=True)


def upsert_master_data_from_recipes(warehouse: Warehouse, recipes: pd.DataFrame) -> MasterDataCounts:
    """Hand the products the recipes name and the MES's cycle times to the plant service."""
    counts = MasterDataCounts()
    if recipes.empty:
        return counts
    products = products_from_recipes(recipes)
    org_ids = sorted(set(products["org_id"]))
    machines = warehouse.query_frame(
        "SELECT id, org_id, line_id FROM machines WHERE org_id = ANY(%s) AND is_active", (org_ids,)
    )
    cycle_times = cycle_times_from_recipes(recipes, machines)
    plant = PlantModelService(warehouse.url())
    for org_id in org_ids:
        report = plant.upsert_master_data(
            org_id,
            products=_records(products[products["org_id"] == org_id], ["id", "name", "unit"]),
            cycle_times=_records(
                cycle_times[cycle_times["org_id"] == org_id],
                ["machine_id", "product_id", "ideal_cycle_time_seconds"],
            ),
            source=MES_SOURCE,
        )
        counts.products_created += report.products_created
        counts.products_updated += report.products_updated
        counts.cycle_times_written += report.cycle_times_written
        counts.cycle_times_removed += report.cycle_times_removed
        counts.rejected.extend(report.rejected)
    return counts


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [
        {
            name: (float(value) if name == "ideal_cycle_time_seconds" else str(value))
            for name, value in row.items()
        }
        for row in frame[columns].to_dict(orient="records")
    ]
