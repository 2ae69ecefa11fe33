"""When the export assets run on their own: after their upstream day was rebuilt (late data).

`AutomationCondition.eager()` only looks at the latest time partition, so a day rebuilt by late
data would keep stale files. This condition is eager on every day partition whose upstream was
updated by another run (the schedules' runs publish in the same run and are not counted twice), and
never on a day whose upstream was never built, so it starts no backfill of history.
"""

import dagster as dg


def publish_after_upstream_rebuilt() -> dg.AutomationCondition:
    return (
        dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("publish_after_upstream_rebuilt")
