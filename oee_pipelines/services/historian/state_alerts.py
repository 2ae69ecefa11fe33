"""`UNMAPPED_STATE` rows of `data_quality_alerts`: state names a tag's state set does not map.

One alert per tag and UTC day, listing every unmapped name with its count (`details.names`). The
historian backfill is the only writer of this alert type; a backfill of a day replaces the alerts of
the tags it fetched, so a re-run after the state set was completed clears them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from oee_pipelines.domain.tag_mapping import UnmappedState
from oee_pipelines.services.historian.jobs import Connect

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
        details = {"system": system, "tag": tag, "state_set": first.state_set, "names": names}
        rows.append(
            (
                first.org_id,
                first.machine_id,
                UNMAPPED_STATE,
                first.first_ts,
                METRIC_NAME,
                float(sum(names.values())),
                json.dumps(details),
                day,
            )
        )
    replaced = sorted(set(tags) | set(by_tag))
    with connect() as conn, conn.transaction():
        conn.execute(
            """DELETE FROM data_quality_alerts
               WHERE partition_date = %s AND alert_type = %s
                 AND details->>'system' = %s AND details->>'tag' = ANY(%s)""",
            (day, UNMAPPED_STATE, system, replaced),
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO data_quality_alerts
                       (org_id, machine_id, alert_type, timestamp_utc, metric_name, metric_value, severity,
                        details, partition_date)
                   VALUES (%s, %s, %s, %s, %s, %s, 'WARNING', %s::jsonb, %s)""",
                rows,
            )
    return len(rows)
