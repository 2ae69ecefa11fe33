"""Zero loss and exactly once: N readings published at QoS 1 while the ingester process is SIGKILLed
(or the broker restarts), landed into a lake, then a tenth of the messages redelivered after landing
(as after a reconnect) and the late hours landed again.

The lake must then hold exactly N rows, each reading once (row count equals distinct count), and the
landing must report the redeliveries it dropped in `duplicates_removed`.
"""

from __future__ import annotations

import pytest

from oee_pipelines_tests.support.iot import (
    IngesterProcess,
    LakeCounts,
    buffered_payloads,
    run_with_faults,
    wait_until,
)


def assert_each_reading_once(counts: LakeCounts, count: int) -> None:
    assert counts.rows == counts.distinct == count, counts
    assert counts.quarantined == 0
    assert counts.redelivered > 0
    # The re-landed hours held every redelivered message again: each one was dropped and reported.
    assert counts.duplicates_removed >= counts.redelivered


@pytest.mark.parametrize("count", [20_000])
def test_no_reading_lost_when_the_ingester_is_killed_twice(tmp_path, broker, sensors, count) -> None:
    def kill_twice(ingester: IngesterProcess) -> None:
        for fraction in (0.25, 0.6):
            wait_until(
                lambda f=fraction: len(buffered_payloads(tmp_path / "buffer")) >= count * f, seconds=60
            )
            ingester.kill()
            ingester.start()

    assert_each_reading_once(run_with_faults(tmp_path, broker, sensors, count, kill_twice), count)


@pytest.mark.parametrize("count", [10_000])
def test_no_reading_lost_when_the_broker_restarts(tmp_path, broker, sensors, count) -> None:
    def restart_broker(ingester: IngesterProcess) -> None:
        wait_until(lambda: len(buffered_payloads(tmp_path / "buffer")) >= count * 0.4, seconds=60)
        broker.restart()

    assert_each_reading_once(run_with_faults(tmp_path, broker, sensors, count, restart_broker), count)
