"""Literal `oee_losses` rows for the two organizations of `tenant_warehouse.py` (one shift each, 2025-01-02).

acme's MACHINE-A01 shift adds up to 480 minutes (planned production time of an 8-hour shift):
300 fully productive + 20 breakdowns + 15 setup + 5 small stops + 126 reduced speed + 2 startup rejects
+ 3 production rejects + 9 unknown. globex's rows carry its own markers ("B0", "Globex").
"""

from __future__ import annotations

import psycopg

LOSS_ROWS_SQL = """
INSERT INTO oee_losses (org_id, day, machine_id, line_id, shift_id, shift_date, loss_category, oee_factor,
                        reason_category, reason_code, reason_name, minutes, occurrences, pieces) VALUES
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'fully_productive', 'productive',
   NULL, NULL, NULL, 300, NULL, 600),
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'breakdowns', 'availability',
   'Breakdown', 'BRK-MECH', 'Mechanical failure', 20, 1, NULL),
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'setup_adjustments',
   'availability', 'Setup', 'ADJUST', 'Unplanned adjustment', 15, 2, NULL),
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'small_stops', 'performance',
   'Minor stop', 'JAM', 'Jam', 5, 4, NULL),
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'reduced_speed', 'performance',
   NULL, NULL, NULL, 126, NULL, NULL),
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'startup_rejects', 'quality',
   NULL, NULL, NULL, 2, NULL, 4),
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'production_rejects', 'quality',
   NULL, NULL, NULL, 3, NULL, 6),
  ('acme', '2025-01-02', 'MACHINE-A01', 'LINE-A1', 'SHIFT-A1', '2025-01-02', 'unknown', 'unknown',
   NULL, NULL, NULL, 9, 1, NULL),
  ('acme', '2025-01-03', 'MACHINE-A02', 'LINE-A2', 'SHIFT-A2', '2025-01-03', 'breakdowns', 'availability',
   'Breakdown', 'BRK-ELEC', 'Electrical failure', 7, 1, NULL),
  ('globex', '2025-01-02', 'MACHINE-B01', 'LINE-B01', 'SHIFT-B01', '2025-01-02', 'breakdowns', 'availability',
   'Globex stops', 'Globex-STOP', 'Globex breakdown', 33, 2, NULL);
"""
ACME_DAY_ONE_MINUTES = 480.0


def insert_loss_rows(url: str) -> None:
    """Replace every `oee_losses` row with the literal rows above."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM oee_losses")
        conn.execute(LOSS_ROWS_SQL)
