"""`UNMAPPED_STATE` rows of `data_quality_alerts`: state names a tag's state set does not map.

One alert per tag and UTC day, listing every unmapped name with its count (`details.names`). The
historian backfill is the only source of this alert type (`services/quality_alerts.py` writes
the table); a backfill of a day replaces the alerts of the tags it fetched, so a re-run after the
state set was completed clears them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import pandas as pd
from psycopg import sql

from oee_pipelines.domain.tag_mapping import UnmappedState
from oee_pipelines.services.historian.jobs import Connect
from oee_pipelines.services.quality_alerts import replace_day_alerts

UNMAPPED_STATE = "UNMAPPED_STATE"
METRIC_NAME = "unmapped_state_readings"


def replace_unmapped_state_alerts(
    connect: Connect, system: str, day: date, tags: Sequence[str], states: Sequence[UnmappedState]
) -> int:
    """Make the day's UNMAPPED_STATE alerts of `system` and `tags` exactly those of `states`."""
    by_tag: dict[str, list[UnmappedState]] = defaultdict(list)
    for state in states:
        by_tag[state.tag].append(state)
    rows = []
    for tag, found in sorted(by_tag.items()):
        first = min(found, key=lambda state: state.first_ts)
        names = {state.name: state.point_count for state in sorted(found, key=lambda s: s.name)}
        rows.append(
            {
                "org_id": first.org_id,
                "machine_id": first.machine_id,
                "alert_type": UNMAPPED_STATE,
                "timestamp_utc": first.first_ts,
                "metric_name": METRIC_NAME,
                "metric_value": float(sum(names.values())),
                "severity": "WARNING",
                "details": {"system": system, "tag": tag, "state_set": first.state_set, "names": names},
            }
        )
    replaced = sorted(set(tags) | set(by_tag))
    scope = sql.SQL("details->>'system' = %s AND details->>'tag' = ANY(%s)")
    with connect() as conn:
        replace_day_alerts(
            conn, pd.DataFrame(rows), day, [UNMAPPED_STATE], scope=scope, scope_params=(system, replaced)
        )
    return len(rows)
