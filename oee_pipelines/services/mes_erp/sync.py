"""What a MES/ERP sync decides, without the warehouse: what to fetch, what to reject, what the audit
row says, and which work orders still need their status pushed back.

`mes.py` and `erp.py` call these; the connectors do the reading, `store.py` the writing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from oee_pipelines.connectors.mes.records import FetchResult, RejectedRecord
from oee_pipelines.connectors.mes.records import fetch_each as fetch_each
from oee_pipelines.connectors.mes.records import is_not_found as is_not_found
from oee_pipelines.connectors.mes.records import merge_results as merge_results

SUCCESS, PARTIAL, FAILED = "SUCCESS", "PARTIAL", "FAILED"
# Audit-trail entity of a status push-back (the other entities are the connectors' entity names).
ORDER_STATUS = "order_status"


@dataclass
class SyncOutcome:
    """One entity of one sync, as the audit row and the asset metadata show it."""

    entity: str
    fetched: int = 0
    created: int = 0
    updated: int = 0
    rejected: list[RejectedRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return FAILED
        return PARTIAL if self.rejected else SUCCESS

    def errors_json(self) -> list[dict[str, str]]:
        return [
            {"entity": r.entity, "key": r.key, "field": r.field, "reason": r.reason} for r in self.rejected
        ]

    def counts(self) -> dict[str, Any]:
        return {
            "sync_status": self.status,
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "rejected": len(self.rejected),
        }


@dataclass
class Landed:
    """One synced table: its audit outcome, the rows that landed, and any further figures."""

    outcome: SyncOutcome
    data: pa.Table
    figures: dict[str, Any] = field(default_factory=dict)


def distinct_values(frames: Iterable[pd.DataFrame], column: str) -> list[str]:
    """The distinct non-null values of `column` over `frames`, sorted."""
    values: set[str] = set()
    for frame in frames:
        if column in frame:
            distinct = pd.unique(frame[column].dropna())
            if all(type(v) is str for v in distinct):
                values.update(distinct)  # ids are text: hash them once each, not once per row
            else:
                values.update(str(v) for v in frame[column].dropna())
    return sorted(values)


def reject_unknown_references(
    result: FetchResult, entity: str, key_column: str, column: str, known: Collection[str], target: str
) -> FetchResult:
    """Reject rows whose `column` names an id that is neither in the warehouse nor landed by this sync.

    The warehouse's foreign keys would refuse the whole batch; this names the one record instead.
    """
    frame = result.frame
    values = frame[column]
    unknown = values.notna() & ~values.astype(object).isin(set(known))
    if not unknown.any():  # nothing to drop: no copy of the frame, only its index reset as below
        index = frame.index
        plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
        kept = frame if plain else frame.reset_index(drop=True)
        return FetchResult(kept, [*result.rejected])
    rejected = [
        RejectedRecord(entity, str(key), column, f"{value} is not in {target}")
        for key, value in zip(frame.loc[unknown, key_column], values[unknown], strict=True)
    ]
    return FetchResult(frame.loc[~unknown].reset_index(drop=True), [*result.rejected, *rejected])


def new_recipe_versions(
    recipes: pd.DataFrame, stored_versions: dict[str, str], requested: Collection[str]
) -> pd.DataFrame:
    """The downloaded recipes worth a `recipe_downloads` row: new, a new version, or asked for by name."""
    if recipes.empty:
        return recipes
    changed = recipes.apply(
        lambda r: stored_versions.get(r["id"]) != r["version"] or r["id"] in requested, axis=1
    )
    return recipes.loc[changed]


PUSH_COLUMNS = ("work_order_id", "wo_number", "status", "actual_quantity")


def pushes_needed(candidates: pd.DataFrame) -> pd.DataFrame:
    """Completed orders whose status or quantity differs from what was last pushed to the MES.

    `candidates` has `PUSH_COLUMNS` plus `pushed_status` and `pushed_quantity` (NULL when never pushed).
    """
    status_changed = candidates["status"] != candidates["pushed_status"]
    quantity = candidates["actual_quantity"].astype("Int64")
    pushed = candidates["pushed_quantity"].astype("Int64")
    quantity_changed = (quantity != pushed).fillna(True) & ~(quantity.isna() & pushed.isna())
    needed = candidates.loc[status_changed | quantity_changed, list(PUSH_COLUMNS)]
    return needed.astype({"actual_quantity": "Int64"}).reset_index(drop=True)
