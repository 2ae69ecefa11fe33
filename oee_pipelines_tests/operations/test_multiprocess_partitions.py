"""The multiprocess executor runs the days of one ranged run in parallel, each in its own process."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest

from oee_pipelines_tests.operations.parallel_location import TIMINGS_DIR_VARIABLE, parallel_days_job

DAYS = ["2025-01-13", "2025-01-14", "2025-01-15"]


@pytest.mark.slow
def test_days_of_a_ranged_run_overlap_in_separate_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    timings_dir = tmp_path / "timings"
    timings_dir.mkdir()
    monkeypatch.setenv(TIMINGS_DIR_VARIABLE, str(timings_dir))
    range_tags = {
        "dagster/asset_partition_range_start": DAYS[0],
        "dagster/asset_partition_range_end": DAYS[-1],
    }

    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        with dg.execute_job(dg.reconstructable(parallel_days_job), instance, tags=range_tags) as result:
            assert result.success
        materialized = instance.get_materialized_partitions(dg.AssetKey("days_in_parallel"))

    timings = [json.loads(path.read_text()) for path in sorted(timings_dir.iterdir())]
    assert materialized == set(DAYS)
    assert [timing["day"] for timing in timings] == DAYS
    assert len({timing["pid"] for timing in timings}) == len(DAYS)
    by_start = sorted(timings, key=lambda timing: timing["started"])
    overlapping = [
        (first["day"], second["day"])
        for first, second in pairwise(by_start)
        if second["started"] < first["finished"]
    ]
    assert overlapping, f"no two days ran at the same time: {timings}"
