"""Making the plant tables of one organization exactly what a plant model says, row by row.

Each table is compared on its natural key: a row that is new is inserted, a row whose values differ
is updated, an equal row is left alone (so re-applying a file writes nothing), and a row that the
model no longer has is deactivated (`is_active = false`: history keeps referring to it), deleted
(pure configuration nobody references), or kept (products and reason codes, which history and the
MES name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Any, Literal

from psycopg import Connection, sql

from oee_pipelines.domain.plant_model import PLANT_MODEL_SOURCE

Removal = Literal["deactivate", "delete", "keep"]


@dataclass(frozen=True)
class TableSpec:
    table: str
    key: tuple[str, ...]
    columns: tuple[str, ...]  # every column the plant model writes, key included
    removal: Removal
    # Rows of another writer (the MES) are never removed by the plant model.
    owned_by_source: bool = False
    # The id column of a table whose ids are unique across organizations.
    global_id: str | None = None

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.key)


TABLE_SPECS: tuple[TableSpec, ...] = (
    TableSpec("organizations", ("id",), ("id", "name"), "keep"),
    TableSpec("sites", ("id",), ("id", "org_id", "name", "timezone"), "keep", global_id="id"),
    TableSpec(
        "production_lines",
        ("id",),
        ("id", "org_id", "site_id", "name", "code", "is_active"),
        "deactivate",
        global_id="id",
    ),
    TableSpec(
        "machines",
        ("id",),
        ("id", "org_id", "line_id", "name", "code", "machine_type", "is_active", "source"),
        "deactivate",
        owned_by_source=True,
        global_id="id",
    ),
    TableSpec(
        "shifts",
        ("id",),
        (
            "id",
            "org_id",
            "site_id",
            "name",
            "shift_number",
            "start_time",
            "end_time",
            "weekdays",
            "effective_from",
            "effective_to",
            "is_active",
        ),
        "deactivate",
        global_id="id",
    ),
    TableSpec(
        "shift_breaks",
        ("shift_id", "start_offset_minutes"),
        ("org_id", "shift_id", "name", "start_offset_minutes", "duration_minutes"),
        "delete",
    ),
    TableSpec(
        "products",
        ("id",),
        ("id", "org_id", "code", "name", "unit", "ideal_cycle_time_seconds", "source"),
        "keep",
        owned_by_source=True,
        global_id="id",
    ),
    TableSpec(
        "reason_codes",
        ("org_id", "code"),
        ("org_id", "code", "category", "name", "is_planned", "loss_category"),
        "keep",
    ),
    TableSpec(
        "machine_cycle_times",
        ("machine_id", "product_id"),
        ("org_id", "machine_id", "product_id", "ideal_cycle_time_seconds", "source"),
        "delete",
        owned_by_source=True,
    ),
    TableSpec(
        "sensor_range_config",
        ("machine_id", "signal_type"),
        (
            "org_id",
            "machine_id",
            "signal_type",
            "min_value",
            "max_value",
            "unit",
            "violation_action",
            "is_active",
        ),
        "deactivate",
    ),
    TableSpec(
        "iot_sensors",
        ("sensor_id",),
        (
            "sensor_id",
            "org_id",
            "sensor_type",
            "machine_id",
            "protocol",
            "mqtt_topic",
            "http_endpoint",
            "polling_interval_seconds",
            "unit",
            "min_expected_value",
            "max_expected_value",
            "is_active",
        ),
        "deactivate",
        global_id="sensor_id",
    ),
    TableSpec(
        "historian_tag_mappings",
        ("org_id", "historian_system", "historian_tag"),
        (
            "org_id",
            "historian_system",
            "historian_tag",
            "machine_id",
            "signal_type",
            "unit",
            "scale_factor",
            "offset_value",
            "counter_mode",
            "counter_rollover",
            "state_set",
            "is_active",
        ),
        "deactivate",
    ),
    TableSpec(
        "state_name_mappings",
        ("org_id", "state_set", "state_key"),
        ("org_id", "state_set", "state_key", "running", "reason_code"),
        "delete",
    ),
)
SPECS_BY_TABLE = {spec.table: spec for spec in TABLE_SPECS}
# Every table the plant service writes (and the round-trip tests compare).
PLANT_TABLES = tuple(spec.table for spec in TABLE_SPECS)


@dataclass
class TableCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    deleted: int = 0

    @property
    def changed(self) -> int:
        return self.created + self.updated + self.deactivated + self.deleted

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deactivated": self.deactivated,
            "deleted": self.deleted,
        }


@dataclass
class SyncOptions:
    remove_missing: bool = True
    counts: dict[str, TableCounts] = field(default_factory=dict)


def normalized(value: Any) -> Any:
    """Values as compared: numbers as float, arrays as tuples (what psycopg returns vs the model)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | date | time):
        return value
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return tuple(normalized(item) for item in value)
    return value


def existing_rows(conn: Connection, spec: TableSpec, org_id: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    where = sql.SQL("id = %s") if spec.table == "organizations" else sql.SQL("org_id = %s")
    query = sql.SQL("SELECT {} FROM {} WHERE {}").format(
        sql.SQL(", ").join(map(sql.Identifier, spec.columns)), sql.Identifier(spec.table), where
    )
    cursor = conn.execute(query, (org_id,))
    rows = [dict(zip(spec.columns, row, strict=True)) for row in cursor.fetchall()]
    return {tuple(row[k] for k in spec.key): row for row in rows}


def sync_table(
    conn: Connection,
    spec: TableSpec,
    org_id: str,
    desired: Sequence[Mapping[str, Any]],
    *,
    remove_missing: bool = True,
) -> TableCounts:
    """Make `spec.table`'s rows of `org_id` equal `desired` (see the module docstring)."""
    counts = TableCounts()
    current = existing_rows(conn, spec, org_id)
    wanted: set[tuple[Any, ...]] = set()
    inserts: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for row in desired:
        key = tuple(row[k] for k in spec.key)
        wanted.add(key)
        before = current.get(key)
        if before is None:
            inserts.append(tuple(row[c] for c in spec.columns))
            counts.created += 1
        elif any(normalized(before[c]) != normalized(row[c]) for c in spec.values):
            updates.append(tuple(row[c] for c in spec.values) + key)
            counts.updated += 1
        else:
            counts.unchanged += 1
    key_match = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in spec.key)
    with conn.cursor() as cursor:
        if inserts:
            cursor.executemany(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(spec.table),
                    sql.SQL(", ").join(map(sql.Identifier, spec.columns)),
                    sql.SQL(", ").join(sql.Placeholder() * len(spec.columns)),
                ),
                inserts,
            )
        if updates and spec.values:
            cursor.executemany(
                sql.SQL("UPDATE {} SET {} WHERE {}").format(
                    sql.Identifier(spec.table),
                    sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in spec.values),
                    key_match,
                ),
                updates,
            )
        if not remove_missing or spec.removal == "keep":
            return counts
        missing = [
            (key, row)
            for key, row in current.items()
            if key not in wanted and (not spec.owned_by_source or row.get("source") == PLANT_MODEL_SOURCE)
        ]
        if spec.removal == "deactivate":
            active = [key for key, row in missing if row.get("is_active")]
            if active:
                cursor.executemany(
                    sql.SQL("UPDATE {} SET is_active = false WHERE {}").format(
                        sql.Identifier(spec.table), key_match
                    ),
                    active,
                )
            counts.deactivated += len(active)
        else:
            if missing:
                cursor.executemany(
                    sql.SQL("DELETE FROM {} WHERE {}").format(sql.Identifier(spec.table), key_match),
                    [key for key, _ in missing],
                )
            counts.deleted += len(missing)
    return counts


def read_org_tables(conn: Connection, org_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every plant table's rows of `org_id` (the columns the plant model writes)."""
    return {spec.table: list(existing_rows(conn, spec, org_id).values()) for spec in TABLE_SPECS}
