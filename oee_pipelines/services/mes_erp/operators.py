"""Operator context from the MES: the roster (`operators`) and who ran each line on each shift
(`operator_shifts`), from the MES's operator assignments of a window.

This module is the only writer of both tables. One sync reads the assignments overlapping the
window, rejects those naming a line or shift the warehouse lacks (or malformed ones: the connector
names them), upserts the operators they name (id, name, role) and replaces the organization's
`operator_shifts` rows overlapping the window with them, in one transaction: a re-run of the same
window changes nothing. Each sync leaves one `mes_schedule_sync` audit row (entity
`operator_assignment`).

A plant without a MES (spreadsheets only) has no operator context: the tables stay empty and the
enrichment leaves the operator columns NULL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from psycopg import sql

from oee_pipelines.connectors.mes import FetchResult, MESConnector, SourceConnectionConfig
from oee_pipelines.services.mes_erp.store import (
    SyncContext,
    Warehouse,
    checked_references,
    failures_audited,
    record_sync,
)
from oee_pipelines.services.mes_erp.sync import SyncOutcome
from oee_pipelines.services.mes_erp.window import SyncWindow
from oee_pipelines.storage.bulk_load import replace_rows, upsert_arrow

OPERATOR_ASSIGNMENT = "operator_assignment"
OPERATOR_SHIFT_COLUMNS = [
    "org_id",
    "line_id",
    "shift_id",
    "shift_date",
    "operator_id",
    "role",
    "start_time",
    "end_time",
]
OPERATOR_COLUMNS = ["id", "org_id", "name", "role"]
SHIFT_KEY = ["line_id", "shift_id", "shift_date", "operator_id"]


@dataclass
class OperatorShiftsLanded:
    """One operator sync: its audit outcome, the `operator_shifts` rows now in the window, the roster."""

    outcome: SyncOutcome
    data: pa.Table
    operators_created: int = 0
    operators_updated: int = 0
    removed: int = 0  # rows of the window the MES no longer lists

    def figures(self) -> dict[str, int]:
        return {
            "operators_created": self.operators_created,
            "operators_updated": self.operators_updated,
            "removed": self.removed,
        }


def sync_operator_shifts(
    warehouse: Warehouse,
    connect: Callable[[], MESConnector],
    source: SourceConnectionConfig,
    window: SyncWindow,
    run_id: str,
) -> OperatorShiftsLanded:
    """Fetch the MES's operator assignments of `window` and land them (FAILED audit row if it raises)."""
    audit = SyncContext(source.org_id, source.system_type, None, window, run_id)
    with failures_audited(warehouse, audit, [OPERATOR_ASSIGNMENT]):
        with connect() as connector:
            fetched = connector.get_operator_assignments(window.start, window.end)
        landed = land_operator_assignments(warehouse, fetched, window, source.org_id)
        record_sync(warehouse, audit, [landed.outcome])
    return landed


def land_operator_assignments(
    warehouse: Warehouse, fetched: FetchResult, window: SyncWindow, org_id: str
) -> OperatorShiftsLanded:
    """Upsert the roster and replace the organization's `operator_shifts` overlapping `window`.

    `fetched.frame` has the connector's `OPERATOR_ASSIGNMENT_COLUMNS`; assignments outside the
    window, or naming a line or shift the warehouse lacks, do not land (the latter are rejected).
    """
    checked = checked_references(
        warehouse,
        fetched,
        OPERATOR_ASSIGNMENT,
        "operator_id",
        {"line_id": ("production_lines", []), "shift_id": ("shifts", [])},
    )
    frame = checked.frame
    frame = frame[(frame["start_time"] < window.end) & (frame["end_time"] > window.start)]
    frame = frame.drop_duplicates(SHIFT_KEY).sort_values(["start_time", *SHIFT_KEY])
    roster = operators_of(frame)
    shifts = pa.Table.from_pandas(frame[OPERATOR_SHIFT_COLUMNS].reset_index(drop=True), preserve_index=False)
    where = sql.SQL("org_id = %s AND start_time < %s AND end_time > %s")
    params = (org_id, window.end, window.start)
    with warehouse.connect() as conn, conn.transaction():
        before = conn.execute(
            sql.SQL("SELECT line_id, shift_id, shift_date, operator_id FROM operator_shifts WHERE ") + where,
            params,
        ).fetchall()
        counts = upsert_arrow(conn, "operators", pa.Table.from_pandas(roster, preserve_index=False), ["id"])
        replace_rows(conn, "operator_shifts", shifts, where, params)
    old_keys = {tuple(row) for row in before}
    new_keys = set(frame[SHIFT_KEY].itertuples(index=False, name=None))
    outcome = SyncOutcome(
        OPERATOR_ASSIGNMENT,
        fetched=len(fetched.frame) + len(fetched.rejected),
        created=len(new_keys - old_keys),
        rejected=checked.rejected,
    )
    return OperatorShiftsLanded(
        outcome,
        shifts,
        operators_created=counts.created,
        operators_updated=counts.updated,
        removed=len(old_keys - new_keys),
    )


def operators_of(assignments: pd.DataFrame) -> pd.DataFrame:
    """The roster the assignments name: one row per operator (its latest assignment's name and role)."""
    latest = assignments.sort_values("start_time").drop_duplicates("operator_id", keep="last")
    roster = latest.rename(columns={"operator_id": "id", "operator_name": "name"})[OPERATOR_COLUMNS]
    return roster.sort_values("id").reset_index(drop=True)
