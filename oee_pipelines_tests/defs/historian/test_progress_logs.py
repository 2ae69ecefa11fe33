"""`historian_points` logs its progress at INFO in the run's event log (the Dagster UI): days done of the
run's days and the points fetched so far, one line per day, against the simulated PI and AVEVA."""

import re

import dagster as dg

from oee_pipelines.defs.historian.assets import historian_points
from oee_pipelines.domain.progress import PROGRESS_PREFIX
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines_tests.support.historian import Historians

DAY_LINE = re.compile(
    r"^progress: historian_points (\d)/(\d) days; ([\d,]+) points fetched - day (\S+) written$"
)


def progress_lines(instance: dg.DagsterInstance, run_id: str) -> list[tuple[int, str]]:
    return [
        (entry.level, entry.user_message)
        for entry in instance.all_logs(run_id)
        if entry.dagster_event is None and entry.user_message.startswith(PROGRESS_PREFIX)
    ]


def test_each_backfilled_day_logs_days_done_and_points_so_far_at_info(
    historians: Historians, mapped_warehouse: WarehouseResource, lake: LakeResource, clean_database: str
) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [historian_points],
            instance=instance,
            resources={"historian": historians.resource(), "warehouse": mapped_warehouse, "lake": lake},
            tags={
                "dagster/asset_partition_range_start": "2025-01-13",
                "dagster/asset_partition_range_end": "2025-01-14",
            },
        )
        lines = progress_lines(instance, result.run_id)
        fetched = [
            m.metadata["points_fetched"].value
            for m in result.asset_materializations_for_node("historian_points")
        ]
    assert result.success
    assert [level for level, _ in lines] == [20, 20]  # logging.INFO
    parsed = [DAY_LINE.match(message) for _, message in lines]
    assert all(parsed), lines
    days = [(int(m[1]), int(m[2]), int(m[3].replace(",", "")), m[4]) for m in parsed if m]
    assert [(done, total, day) for done, total, _, day in days] == [
        (1, 2, "2025-01-13"),
        (2, 2, "2025-01-14"),
    ]
    # The points so far add up the days' fetched points, as the materializations report them.
    assert len(fetched) == 2 and all(points > 0 for points in fetched)
    assert [points for _, _, points, _ in days] == [fetched[0], fetched[0] + fetched[1]]
