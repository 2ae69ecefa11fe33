"""Zero loss: N readings published at QoS 1 while the ingester process is SIGKILLed (or the broker restarts).

After landing, exactly N distinct readings must come out: nothing lost, redeliveries removed by key.
"""

from __future__ import annotations

import pytest

from oee_pipelines_tests.support.iot import IngesterProcess, buffered_payloads, run_with_faults, wait_until


@pytest.mark.parametrize("count", [20_000])
def test_no_reading_lost_when_the_ingester_is_killed_twice(tmp_path, broker, sensors, count) -> None:
    def kill_twice(ingester: IngesterProcess) -> None:
        for fraction in (0.25, 0.6):
            wait_until(
                lambda f=fraction: len(buffered_payloads(tmp_path / "buffer")) >= count * f, seconds=60
            )
            ingester.kill()
            ingester.start()

    assert run_with_faults(tmp_path, broker, sensors, count, kill_twice) == (count, 0)


@pytest.mark.parametrize("count", [10_000])
def test_no_reading_lost_when_the_broker_restarts(tmp_path, broker, sensors, count) -> None:
    def restart_broker(ingester: IngesterProcess) -> None:
        wait_until(lambda: len(buffered_payloads(tmp_path / "buffer")) >= count * 0.4, seconds=60)
        broker.restart()

    assert run_with_faults(tmp_path, broker, sensors, count, restart_broker) == (count, 0)
