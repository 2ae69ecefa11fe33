"""Small literal operator assignments (who ran which line on which shift) for the MES operator tests.

Two shifts of 2025-01-13 on the sample warehouse's LINE-001 (`mes_sources.REFERENCE_SQL` plus
`SHIFTS_SQL`): the early shift 06:00-14:00 UTC (a lead and an operator), the late shift 14:00-22:00
(one operator), and the night shift of 2025-01-12 ending 06:00 on the 13th (one operator).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

from oee_pipelines.simulator.servers.source_data import Record

DAY = datetime(2025, 1, 13, tzinfo=UTC)
LINE = "LINE-001"
SHIFTS_SQL = """
INSERT INTO shifts (id, org_id, site_id, name, shift_number, start_time, end_time) VALUES
  ('SHIFT-1', 'demo', 'SITE-01', 'Early', 1, '06:00', '14:00'),
  ('SHIFT-2', 'demo', 'SITE-01', 'Late', 2, '14:00', '22:00'),
  ('SHIFT-3', 'demo', 'SITE-01', 'Night', 3, '22:00', '06:00');
"""


def assignment(operator: int, shift: int, **changes: object) -> Record:
    """Operator OP-000n on shift n of 2025-01-13 (shift 3: the night starting on the 12th)."""
    start = DAY + timedelta(hours=6 + 8 * (shift - 1)) if shift < 3 else DAY - timedelta(hours=2)
    record: Record = {
        "operator_id": f"OP-{operator:04d}",
        "operator_name": f"Operator {operator}",
        "role": "shift_lead" if operator == 1 else "machine_operator",
        "line_id": LINE,
        "shift_id": f"SHIFT-{shift}",
        "shift_date": date(2025, 1, 12) if shift == 3 else date(2025, 1, 13),
        "start_time": start,
        "end_time": start + timedelta(hours=8),
    }
    return {**record, **changes}


def sample_assignments() -> list[Record]:
    return [assignment(1, 1), assignment(2, 1), assignment(3, 2), assignment(4, 3)]


def seed_shifts(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(SHIFTS_SQL)
