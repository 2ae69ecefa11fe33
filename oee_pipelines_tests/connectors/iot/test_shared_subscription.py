"""MQTT 5 shared subscriptions: ingester processes in one group split a topic tree with zero loss.

Both members write into one buffer directory (each as its own writer, from its client id), so one
landing sees every segment and its dedup key (sensor, signal, timestamp, value) makes a redelivered
reading count once. mosquitto deals a group's messages round-robin to the members' *sessions*, online
or not: a killed member's share (its unacknowledged in-flight messages and everything dealt to it
while down) waits in its persistent session until it comes back with the same client id.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from oee_pipelines.connectors.iot.buffer import (
    closed_segments,
    open_segments,
    parse_segment_name,
    read_records,
    writer_name_for,
)
from oee_pipelines.connectors.iot.ingester import IngesterConfig, run_ingester, subscription_filters
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.mqtt_publisher import MqttPublisher, PublishResult, sensor_topics
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.iot import (
    IngesterProcess,
    buffered_payloads,
    generated_readings,
    ingester_thread,
    land_into_lake,
    publish_in_background,
    wait_until,
)

GROUP = "zero-loss-group"


def member(broker: MosquittoBroker, buffer_dir: Path, log: Path, client_id: str) -> IngesterProcess:
    """`python -m oee_pipelines.connectors.iot.ingester` in the share group, with its own client id."""
    process = IngesterProcess(broker, buffer_dir, log)
    process.command = [
        *(argument for argument in process.command if not argument.startswith("--client-id=")),
        f"--client-id={client_id}",
        f"--share-group={GROUP}",
    ]
    return process


def payloads_by_writer(buffer_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in [*closed_segments(buffer_dir), *open_segments(buffer_dir)]:
        name = parse_segment_name(path)
        assert name is not None
        counts[name.writer] = counts.get(name.writer, 0) + len(read_records(path))
    return counts


@pytest.mark.parametrize("count", [20_000])
def test_two_ingesters_in_a_share_group_one_killed_every_reading_lands_once(
    tmp_path: Path, broker: MosquittoBroker, sensors, count: int
) -> None:
    buffer_dir = tmp_path / "buffer"
    first = member(broker, buffer_dir, tmp_path / "first.log", "shared-ingester-1")
    second = member(broker, buffer_dir, tmp_path / "second.log", "shared-ingester-2")
    first.start()
    second.start()
    readings = generated_readings(sensors, count)
    publisher, outcome = publish_in_background(broker, readings, sensor_topics(sensors))
    try:
        wait_until(lambda: len(buffered_payloads(buffer_dir)) >= count * 0.25, seconds=60)
        first.kill()  # SIGKILL by PID, mid-stream: its unacknowledged messages stay in its session
        publisher.join(timeout=120)
        assert "error" not in outcome, outcome.get("error")
        assert isinstance(outcome["result"], PublishResult) and outcome["result"].readings == count
        # Every message is at the broker now, yet the survivor cannot hold them all: the dead member's
        # share waits for it (mosquitto does not hand it to the survivor).
        assert len(set(buffered_payloads(buffer_dir))) < count
        first.start()  # the same client id resumes its session and drains its share
        wait_until(lambda: len(set(buffered_payloads(buffer_dir))) >= count, seconds=60)
    finally:
        exit_codes = [first.terminate(), second.terminate()]
    assert exit_codes == [0, 0]
    by_writer = payloads_by_writer(buffer_dir)
    assert set(by_writer) == {writer_name_for("shared-ingester-1"), writer_name_for("shared-ingester-2")}
    assert all(messages > count * 0.2 for messages in by_writer.values()), by_writer  # the group split them

    counts = land_into_lake(buffer_dir, Lake(str(tmp_path / "lake")), sensors)
    assert counts.rows == counts.distinct == count, counts
    assert counts.quarantined == 0


def test_a_share_group_subscribes_to_shared_filters() -> None:
    assert subscription_filters(("factory/#", "plant/+/x"), "ingesters") == [
        "$share/ingesters/factory/#",
        "$share/ingesters/plant/+/x",
    ]
    assert subscription_filters(("factory/#",), None) == ["factory/#"]


@pytest.mark.parametrize("group", ["a/b", "a+", "#"])
def test_a_share_group_name_with_a_topic_separator_or_wildcard_is_refused(
    ingester_config: IngesterConfig, group: str
) -> None:
    with pytest.raises(ValueError, match="share group"):
        run_ingester(dataclasses.replace(ingester_config, share_group=group))


def test_a_cleanly_stopped_ingester_acknowledged_every_message(
    broker: MosquittoBroker, ingester_config: IngesterConfig
) -> None:
    """The batched PUBACKs reach the broker: restarted, the session redelivers nothing.

    mosquitto resends a session's unacknowledged messages first on reconnect, so once a marker
    published after the restart is buffered, any redelivery would already be in the buffer too.
    QoS 1 lets the publisher's side deliver a message twice (a resend after its own reconnect on a
    loaded machine): the buffer is counted when the first ingester stops, and only growth past the
    marker after the restart counts as redelivery.
    """
    topic = "factory/MACHINE-001/temperature"
    count = 3000

    def publish(*payloads: bytes) -> None:
        with MqttPublisher("127.0.0.1", broker.port, client_id="ack-publisher") as publisher:
            publisher.publish((topic, payload, 1) for payload in payloads)
            publisher.wait_until_delivered()

    payloads = [orjson.dumps({"sensor_id": "TEMP-M001", "temperature": i}) for i in range(count)]
    with ingester_thread(ingester_config):
        publish(*payloads)
        wait_until(lambda: len(set(buffered_payloads(ingester_config.buffer_dir))) >= count)
    before_restart = len(buffered_payloads(ingester_config.buffer_dir))
    marker = orjson.dumps({"sensor_id": "TEMP-M001", "temperature": -1})
    with ingester_thread(ingester_config):
        publish(marker)
        wait_until(lambda: marker in buffered_payloads(ingester_config.buffer_dir))
    buffered = buffered_payloads(ingester_config.buffer_dir)
    assert len(buffered) == before_restart + 1
    assert set(buffered) == {*payloads, marker}
