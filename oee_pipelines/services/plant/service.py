"""`PlantModelService`: the only writer of the plant tables (organizations, sites, production_lines,
machines, shifts, shift_breaks, products, reason_codes, sensor_range_config, iot_sensors,
historian_tag_mappings, machine_cycle_times, state_name_mappings).

- `apply(model)`: the whole model in ONE transaction (nothing half-applied); re-applying the same
  model changes nothing; what the model no longer has is deactivated (machines, lines, shifts,
  sensor ranges, IoT sensors, tags), deleted (breaks, cycle times, state names) or kept (products,
  reason codes: history and the MES name them).
- `export(org_id)`: the model of what the warehouse holds, which `apply` accepts unchanged.
- `apply_fragment(org_id, merge)`: a partial model (the reference-data templates) merged into the
  current one, validated whole, applied in one transaction.
- `upsert_master_data(...)`: products, cycle times and machines from the MES / ERP, under the plant
  model's precedence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import Connection, sql

from oee_pipelines.domain.plant_model import (
    PLANT_MODEL_SOURCE,
    Organization,
    PlantModel,
    PlantModelError,
    PlantModelIssue,
    from_tables,
    parse_plant_model,
    rows_with_paths,
)
from oee_pipelines.services.plant.tables import (
    SPECS_BY_TABLE,
    TABLE_SPECS,
    TableCounts,
    read_org_tables,
    sync_table,
)

MES_SOURCE = "mes"


@dataclass
class ApplyReport:
    """What an apply did, per table (created / updated / unchanged / deactivated / deleted)."""

    org_id: str
    tables: dict[str, TableCounts] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def changed(self) -> int:
        return sum(counts.changed for counts in self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "changed": self.changed,
            "dry_run": self.dry_run,
            "tables": {table: counts.as_dict() for table, counts in self.tables.items()},
        }

    def lines(self) -> list[str]:
        width = max((len(t) for t in self.tables), default=10)
        out = [f"{'table':<{width}}  created  updated  unchanged  deactivated  deleted"]
        for table, c in self.tables.items():
            out.append(
                f"{table:<{width}}  {c.created:>7}  {c.updated:>7}  {c.unchanged:>9}  "
                f"{c.deactivated:>11}  {c.deleted:>7}"
            )
        return out


@dataclass
class MasterDataReport:
    """What a MES / ERP master-data upsert did, and the rows it turned away (with the reason)."""

    products_created: int = 0
    products_updated: int = 0
    machines_created: int = 0
    machines_updated: int = 0
    cycle_times_written: int = 0
    cycle_times_removed: int = 0
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "products_created": self.products_created,
            "products_updated": self.products_updated,
            "machines_created": self.machines_created,
            "machines_updated": self.machines_updated,
            "cycle_times_written": self.cycle_times_written,
            "cycle_times_removed": self.cycle_times_removed,
            "rejected": list(self.rejected),
        }


class PlantModelService:
    """The plant tables of the warehouse at `database_url` (a libpq URL)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with psycopg.connect(self.database_url) as conn:  # commits on success, rolls back on error
            yield conn

    # --- whole model ----------------------------------------------------------------------------------

    def check(self, model: PlantModel) -> list[PlantModelIssue]:
        """What the warehouse says against the model (ids another organization already uses)."""
        with self._transaction() as conn:
            return warehouse_issues(conn, model)

    def apply(self, model: PlantModel, *, dry_run: bool = False) -> ApplyReport:
        """Make the organization's plant tables exactly `model`, in one transaction.

        Raises `PlantModelError` (nothing changed) when an id of the model belongs to another
        organization. `dry_run` computes the report and rolls back.
        """
        with self._transaction() as conn:
            report = apply_model(conn, model)
            report.dry_run = dry_run
            if dry_run:
                conn.rollback()
            return report

    def export(self, org_id: str) -> PlantModel:
        """The organization's current plant model (active rows the plant model owns)."""
        with self._transaction() as conn:
            return export_model(conn, org_id)

    def export_or_empty(self, org_id: str) -> PlantModel:
        """The current model, or an empty one of `org_id` when the organization is not there yet."""
        with self._transaction() as conn:
            return export_model(conn, org_id, missing_ok=True)

    def organizations(self) -> list[str]:
        with self._transaction() as conn:
            return [str(row[0]) for row in conn.execute("SELECT id FROM organizations ORDER BY id")]

    def apply_fragment(
        self,
        org_id: str,
        merge: Callable[[PlantModel], PlantModel | dict[str, Any]],
        *,
        dry_run: bool = False,
    ) -> ApplyReport:
        """A partial apply (the reference-data templates): `merge(current)` returns the current model
        (or its document) with the fragment merged in; the result is validated whole (raises
        `PlantModelError` with every issue and its path in the merged document) and applied in the
        same transaction that read the current model. Nothing is removed that `merge` kept."""
        with self._transaction() as conn:
            _lock(conn, org_id)
            current = export_model(conn, org_id, missing_ok=True)
            merged_document = merge(current)
            if isinstance(merged_document, PlantModel):
                merged_document = merged_document.to_document()
            merged = parse_plant_model(merged_document)
            report = apply_model(conn, merged)
            report.dry_run = dry_run
            if dry_run:
                conn.rollback()
            return report

    # --- master data from the MES / ERP ---------------------------------------------------------------

    def upsert_master_data(
        self,
        org_id: str,
        *,
        products: Sequence[Mapping[str, Any]] = (),
        cycle_times: Sequence[Mapping[str, Any]] = (),
        machines: Sequence[Mapping[str, Any]] = (),
        source: str = MES_SOURCE,
    ) -> MasterDataReport:
        """Master data a MES / ERP provides, upserted under the plant model's precedence, in one
        transaction. The plant model wins on every field both define:

        - `products`: `{id, name?, unit?}`. A product the warehouse lacks is added (`source`); a
          product the plant model defines is never changed; one the MES added before is updated.
        - `cycle_times`: `{machine_id, product_id, ideal_cycle_time_seconds}`. Written as a
          `machine_cycle_times` row with `source` unless the plant model gives that machine and
          product a time of its own or gives the product a default (`products.ideal_cycle_time_seconds`);
          the source's own rows are updated, and its rows shadowed by a plant-model default are
          removed. Unknown machine or product, or a time <= 0: rejected (reason in the report).
        - `machines`: `{id, line_id, name?, type?}` (e.g. MES work centres). A machine the warehouse
          lacks is added on an existing line of the organization (`source`); a plant-model machine
          is never changed; one the source added before is updated. Unknown line: rejected.

        Rows of `source` are never deactivated or removed by `apply` (the plant model only removes its
        own) and are not part of `export`.
        """
        report = MasterDataReport()
        with self._transaction() as conn:
            _lock(conn, org_id)
            if conn.execute("SELECT 1 FROM organizations WHERE id = %s", (org_id,)).fetchone() is None:
                raise PlantModelError(
                    [
                        PlantModelIssue(
                            "organization", f"no organization {org_id!r}: apply the plant model first"
                        )
                    ]
                )
            _upsert_products(conn, org_id, products, source, report)
            _upsert_machines(conn, org_id, machines, source, report)
            _upsert_cycle_times(conn, org_id, cycle_times, source, report)
        return report


# --- transaction bodies (take the caller's connection) -----------------------------------------------


def _lock(conn: Connection, org_id: str) -> None:
    """Serialize writers of one organization's plant tables."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"plant_model:{org_id}",))


def warehouse_issues(conn: Connection, model: PlantModel) -> list[PlantModelIssue]:
    """Ids of the model that another organization already uses (ids are unique in the warehouse)."""
    org_id = model.organization.id
    issues = []
    located = rows_with_paths(model)
    for spec in TABLE_SPECS:
        if spec.global_id is None or not located[spec.table]:
            continue
        ids = [row[spec.global_id] for _, row in located[spec.table]]
        taken: dict[str, str] = dict(
            conn.execute(
                sql.SQL("SELECT {id}, org_id FROM {table} WHERE {id} = ANY(%s) AND org_id <> %s").format(
                    id=sql.Identifier(spec.global_id), table=sql.Identifier(spec.table)
                ),
                (ids, org_id),
            ).fetchall()
        )
        for path, row in located[spec.table]:
            owner = taken.get(row[spec.global_id])
            if owner is not None:
                field_name = "sensor_id" if spec.global_id == "sensor_id" else "id"
                issues.append(
                    PlantModelIssue(
                        f"{path}.{field_name}",
                        f"id {row[spec.global_id]!r} already belongs to organization {owner!r}",
                    )
                )
    return issues


def apply_model(conn: Connection, model: PlantModel) -> ApplyReport:
    org_id = model.organization.id
    _lock(conn, org_id)
    issues = warehouse_issues(conn, model)
    if issues:
        raise PlantModelError(issues)
    tables = {table: [row for _, row in rows] for table, rows in rows_with_paths(model).items()}
    report = ApplyReport(org_id=org_id)
    for spec in TABLE_SPECS:
        report.tables[spec.table] = sync_table(conn, spec, org_id, tables[spec.table])
    return report


def export_model(conn: Connection, org_id: str, *, missing_ok: bool = False) -> PlantModel:
    tables = read_org_tables(conn, org_id)
    if not tables["organizations"]:
        if missing_ok:
            return PlantModel(organization=Organization(id=org_id, name=org_id))
        raise PlantModelError(
            [PlantModelIssue("organization", f"no organization {org_id!r} in the warehouse")]
        )
    return from_tables(tables)


def _upsert_products(
    conn: Connection, org_id: str, rows: Sequence[Mapping[str, Any]], source: str, report: MasterDataReport
) -> None:
    spec = SPECS_BY_TABLE["products"]
    for row in rows:
        product_id = str(row.get("id") or "").strip()
        if not product_id:
            report.rejected.append(f"products: a row without id ({dict(row)})")
            continue
        existing = conn.execute(
            "SELECT org_id, source, name, unit FROM products WHERE id = %s", (product_id,)
        ).fetchone()
        name, unit = str(row.get("name") or product_id), str(row.get("unit") or "pcs")
        if existing is None:
            conn.execute(
                sql.SQL("INSERT INTO products ({}) VALUES (%s, %s, %s, %s, %s, NULL, %s)").format(
                    sql.SQL(", ").join(map(sql.Identifier, spec.columns))
                ),
                (product_id, org_id, product_id, name, unit, source),
            )
            report.products_created += 1
        elif existing[0] != org_id:
            report.rejected.append(f"products: id {product_id!r} belongs to organization {existing[0]!r}")
        elif existing[1] == source and (existing[2], existing[3]) != (name, unit):
            conn.execute("UPDATE products SET name = %s, unit = %s WHERE id = %s", (name, unit, product_id))
            report.products_updated += 1


def _upsert_machines(
    conn: Connection, org_id: str, rows: Sequence[Mapping[str, Any]], source: str, report: MasterDataReport
) -> None:
    lines = {
        str(r[0])
        for r in conn.execute("SELECT id FROM production_lines WHERE org_id = %s AND is_active", (org_id,))
    }
    for row in rows:
        machine_id, line_id = str(row.get("id") or "").strip(), str(row.get("line_id") or "").strip()
        if not machine_id:
            report.rejected.append(f"machines: a row without id ({dict(row)})")
            continue
        existing = conn.execute(
            "SELECT org_id, source, line_id, name, machine_type FROM machines WHERE id = %s", (machine_id,)
        ).fetchone()
        if existing is not None and existing[0] != org_id:
            report.rejected.append(f"machines: id {machine_id!r} belongs to organization {existing[0]!r}")
            continue
        if existing is not None and existing[1] != source:
            continue  # the plant model defines it: it wins
        if line_id not in lines:
            report.rejected.append(f"machines: {machine_id!r}: unknown line {line_id!r}")
            continue
        name, machine_type = str(row.get("name") or machine_id), row.get("type")
        if existing is None:
            conn.execute(
                """INSERT INTO machines (id, org_id, line_id, name, code, machine_type, is_active, source)
                   VALUES (%s, %s, %s, %s, %s, %s, true, %s)""",
                (machine_id, org_id, line_id, name, machine_id, machine_type, source),
            )
            report.machines_created += 1
        elif (existing[2], existing[3], existing[4]) != (line_id, name, machine_type):
            conn.execute(
                "UPDATE machines SET line_id = %s, name = %s, machine_type = %s WHERE id = %s",
                (line_id, name, machine_type, machine_id),
            )
            report.machines_updated += 1


def _upsert_cycle_times(
    conn: Connection, org_id: str, rows: Sequence[Mapping[str, Any]], source: str, report: MasterDataReport
) -> None:
    machines = {str(r[0]) for r in conn.execute("SELECT id FROM machines WHERE org_id = %s", (org_id,))}
    defaults = {
        str(r[0]): r[1]
        for r in conn.execute(
            "SELECT id, ideal_cycle_time_seconds FROM products WHERE org_id = %s", (org_id,)
        )
    }
    for row in rows:
        machine_id, product_id = str(row.get("machine_id") or ""), str(row.get("product_id") or "")
        seconds = row.get("ideal_cycle_time_seconds")
        if machine_id not in machines:
            report.rejected.append(f"cycle_times: unknown machine {machine_id!r}")
            continue
        if product_id not in defaults:
            report.rejected.append(f"cycle_times: unknown product {product_id!r}")
            continue
        if not isinstance(seconds, int | float) or not seconds > 0:
            report.rejected.append(
                f"cycle_times: {machine_id}/{product_id}: cycle time must be > 0 ({seconds!r})"
            )
            continue
        if defaults[product_id] is not None:
            continue  # the plant model's product default wins
        written = conn.execute(
            """INSERT INTO machine_cycle_times
                   (org_id, machine_id, product_id, ideal_cycle_time_seconds, source)
               VALUES (%s, %s, %s, %s, %s)
               ON CONFLICT (machine_id, product_id) DO UPDATE
                   SET ideal_cycle_time_seconds = EXCLUDED.ideal_cycle_time_seconds
                   WHERE machine_cycle_times.source = EXCLUDED.source
                     AND machine_cycle_times.ideal_cycle_time_seconds
                         IS DISTINCT FROM EXCLUDED.ideal_cycle_time_seconds""",
            (org_id, machine_id, product_id, float(seconds), source),
        ).rowcount
        report.cycle_times_written += written
    report.cycle_times_removed += conn.execute(
        """DELETE FROM machine_cycle_times t USING products p
           WHERE t.product_id = p.id AND t.org_id = %s AND t.source = %s
             AND t.source <> %s AND p.ideal_cycle_time_seconds IS NOT NULL""",
        (org_id, source, PLANT_MODEL_SOURCE),
    ).rowcount
