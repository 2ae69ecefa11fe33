"""`oee iot ingest` in an MQTT 5 shared subscription group: from `iot.mqtt.share_group` or `--share-group`."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from oee_pipelines.cli.iot import broker_settings
from oee_pipelines.connectors.iot.buffer import (
    closed_segments,
    open_segments,
    parse_segment_name,
    read_records,
    writer_name_for,
)
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.settings import ConfigError, Settings
from oee_pipelines.simulator.mqtt_publisher import MqttPublisher
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.processes import running_oee

WAIT_SECONDS = 60.0


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def environment(tmp_path: Path, config: dict) -> dict[str, str]:
    config_file = tmp_path / "connectors.yml"
    config_file.write_text(yaml.safe_dump(config))
    return {
        **os.environ,
        "OEE_DATA_DIR": str(tmp_path / "data"),
        "OEE_CONFIG_FILE": str(config_file),
        "OEE_IOT_BUFFER_DIR": str(tmp_path / "buffer"),
    }


def messages_by_writer(buffer_dir: Path) -> dict[str, list[bytes]]:
    by_writer: dict[str, list[bytes]] = {}
    for path in [*closed_segments(buffer_dir), *open_segments(buffer_dir)]:
        name = parse_segment_name(path)
        assert name is not None
        by_writer.setdefault(name.writer, []).extend(read_records(path).payload)
    return by_writer


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path / "broker", free_port()) as running_broker:
        yield running_broker


def test_the_seed_share_group_and_the_flag_give_the_ingesters_group(tmp_path: Path) -> None:
    env = environment(tmp_path, {"iot": {"mqtt": {"broker": "iot-broker.local", "share_group": "ingesters"}}})
    settings = Settings.from_env(env)
    flags = argparse.Namespace(broker_host=None, broker_port=None, topic=None, client_id="ingester-2")
    assert broker_settings(settings, flags).share_group == "ingesters"
    flags.share_group = "other-group"
    assert broker_settings(settings, flags).share_group == "other-group"
    plain = environment(tmp_path, {"iot": {"mqtt": {"broker": "iot-broker.local"}}})
    assert broker_settings(Settings.from_env(plain), flags).share_group == "other-group"
    flags.share_group = None
    assert broker_settings(Settings.from_env(plain), flags).share_group is None


def test_a_share_group_with_a_wildcard_is_refused_naming_the_key(tmp_path: Path) -> None:
    env = environment(tmp_path, {"iot": {"mqtt": {"broker": "iot-broker.local", "share_group": "a/+"}}})
    with pytest.raises(ConfigError, match=r"iot\.mqtt\.share_group: a share group name may not contain"):
        Settings.from_env(env)


def test_two_ingest_processes_in_one_group_split_the_messages(
    tmp_path: Path, broker: MosquittoBroker
) -> None:
    env = environment(
        tmp_path, {"iot": {"mqtt": {"broker": "127.0.0.1", "port": broker.port, "share_group": "split"}}}
    )
    buffer_dir = tmp_path / "buffer"
    count = 400
    with (
        running_oee(
            "iot", "ingest", "--client-id=member-a", f"--ready-file={tmp_path / 'a.ready'}", env=env
        ) as a,
        running_oee(
            "iot", "ingest", "--client-id=member-b", f"--ready-file={tmp_path / 'b.ready'}", env=env
        ) as b,
    ):
        for process, ready in ((a, tmp_path / "a.ready"), (b, tmp_path / "b.ready")):
            wait_until(lambda r=ready, p=process: r.exists() or p.poll() is not None)
            assert ready.exists(), process.stderr.read() if process.stderr else ""
        with MqttPublisher("127.0.0.1", broker.port, client_id="split-publisher") as publisher:
            publisher.publish(
                ("factory/MACHINE-001/temperature", orjson.dumps({"sensor_id": "T", "temperature": i}), 1)
                for i in range(count)
            )
            publisher.wait_until_delivered()
        wait_until(lambda: sum(map(len, messages_by_writer(buffer_dir).values())) >= count)
    assert (a.returncode, b.returncode) == (0, 0)
    by_writer = messages_by_writer(buffer_dir)
    assert set(by_writer) == {writer_name_for("member-a"), writer_name_for("member-b")}
    # Shared, each message went to one member only: together they hold every message exactly once.
    assert all(by_writer.values())
    every = [payload for payloads in by_writer.values() for payload in payloads]
    assert len(every) == len(set(every)) == count
