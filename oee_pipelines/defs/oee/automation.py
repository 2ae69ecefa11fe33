"""Declarative automation of the OEE chain: rebuild exactly the day partitions whose inputs changed.

`AutomationCondition.eager()` only looks at the latest time partition, so late data for an older day
would never be picked up. This condition is eager without that restriction, but only rebuilds
partitions that were built before (`~missing`): filling history stays a backfill's job. With daily
partitions mapped one to one (and hourly IoT batches to their day), a changed upstream partition
requests exactly its day's downstream partitions; the whole chain is requested in one tick because
`any_deps_updated` also sees parents that will be requested on the same tick.
"""

import dagster as dg


def rebuild_on_late_data() -> dg.AutomationCondition:
    return (
        dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.missing()
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("rebuild_on_late_data")
