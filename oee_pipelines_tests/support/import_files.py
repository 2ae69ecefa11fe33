"""A small plant (two organizations) for the file-import tests and files to import: a good sensor log,
one with three bad rows, a downtime file with a formula in it, and a production schedule."""

from __future__ import annotations

import psycopg

PLANT_SQL = """
INSERT INTO organizations (id, name) VALUES ('acme', 'Acme'), ('globex', 'Globex');
INSERT INTO sites (id, org_id, name, timezone) VALUES
  ('SITE-A1', 'acme', 'Acme plant', 'Europe/Berlin'), ('SITE-B1', 'globex', 'Globex plant', 'UTC');
INSERT INTO production_lines (id, org_id, site_id, name, code) VALUES
  ('LINE-A1', 'acme', 'SITE-A1', 'Line 1', 'L1'), ('LINE-B1', 'globex', 'SITE-B1', 'Globex line', 'G1');
INSERT INTO machines (id, org_id, line_id, name, code) VALUES
  ('MACHINE-A01', 'acme', 'LINE-A1', 'Filler', 'F1'), ('MACHINE-A02', 'acme', 'LINE-A1', 'Capper', 'C1'),
  ('MACHINE-B01', 'globex', 'LINE-B1', 'Press', 'P1');
INSERT INTO reason_codes (org_id, code, category, name, is_planned, loss_category) VALUES
  ('acme', 'BRK-MECH', 'breakdown', 'Mechanical breakdown', false, 'breakdowns'),
  ('acme', 'BREAK', 'planned', 'Break', true, 'planned_stop');
"""

GOOD_SENSOR_LOG = """timestamp,machine_id,sensor_type,value,unit,quality
2025-01-14T10:00:00Z,MACHINE-A01,temperature,75.5,degC,100
2025-01-14T10:01:00Z,MACHINE-A01,temperature,75.6,degC,100
2025-01-14T10:00:00Z,MACHINE-A02,pressure,4.2,bar,
2025-01-15T23:30:00Z,MACHINE-A02,pressure,4.3,bar,50
"""

# Rows 3, 4 and 6 are wrong (a comma decimal, an unknown machine, quality above 100).
SENSOR_LOG_WITH_THREE_BAD_ROWS = """timestamp,machine_id,sensor_type,value,unit,quality
2025-01-14T11:00:00Z,MACHINE-A01,temperature,75.5,degC,100
2025-01-14T11:01:00Z,MACHINE-A01,temperature,"75,6",degC,100
2025-01-14T11:02:00Z,MACHINE-Z99,temperature,75.7,degC,100
2025-01-14T11:03:00Z,MACHINE-A01,temperature,75.8,degC,100
2025-01-14T11:04:00Z,MACHINE-A01,temperature,75.9,degC,101
"""

DOWNTIME_CSV = """start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id
2025-01-14T08:15:00Z,2025-01-14T08:42:00Z,MACHINE-A01,,BRK-MECH,Conveyor belt torn,OP-1
2025-01-14T23:50:00Z,2025-01-15T00:20:00Z,MACHINE-A02,LINE-A1,BREAK,"=cmd|' /C calc'!A0",
"""

SCHEDULE_CSV = """\
external_id,line_id,work_order_id,product_id,recipe_id,planned_start,planned_end,planned_quantity,status
SCH-1,LINE-A1,,,,2025-01-14T06:00:00Z,2025-01-14T14:00:00Z,1000,
SCH-2,LINE-A1,,,,2025-01-14T14:00:00Z,2025-01-14T22:00:00Z,800,released
"""


def query(url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params).fetchall()


def sensor_log_with_bad_rows(duplicates: int, unknown_machines: int, machine_id: str = "MACHINE-A01") -> str:
    """A sensor log whose row 2 is good, then `duplicates` copies of it and `unknown_machines` readings of
    an unknown machine (each at its own second), interleaved: 3 duplicates, 2 unknown, and so on."""
    good = f"2025-01-14T11:00:00Z,{machine_id},temperature,75.5,degC,100"
    rows = [good]
    left = {"duplicate": duplicates, "unknown": unknown_machines}
    second = 0
    while left["duplicate"] or left["unknown"]:
        for kind, run in (("duplicate", 3), ("unknown", 2)):
            for _ in range(min(run, left[kind])):
                second += 1
                stamp = f"2025-01-14T{12 + second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"
                rows.append(good if kind == "duplicate" else f"{stamp},MACHINE-Z99,temperature,70.0,degC,100")
                left[kind] -= 1
    return "timestamp,machine_id,sensor_type,value,unit,quality\n" + "\n".join(rows) + "\n"
