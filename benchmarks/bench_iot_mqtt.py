"""MQTT ingestion: sustained readings/s from mosquitto through the ingester into the durable buffer.

Each case preloads a fresh broker with the messages for an offline persistent session, then times how
long the subscriber takes to drain them (so the publisher does not compete for the 2 cores). The
baseline is a bare paho subscriber with the same kind of session that only counts messages (auto
acknowledgement, no parsing, no disk). Cases: one reading per message, and 100 per message.

Scale-out rows: 1 and 2 ingester *processes* in one MQTT 5 shared subscription group
(`$share/<group>/factory/#`). mosquitto deals the preloaded messages round-robin into the members'
persistent sessions; each process has imported everything and waits for a start file, so the timing
is the drain alone. From the 1-process rate: how many processes the seed's 100K messages/s needs.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from oee_pipelines.connectors.iot.buffer import BODY_HEADER, RECORD_HEADER, closed_segments, open_segments
from oee_pipelines.connectors.iot.ingester import IngesterConfig, run_ingester
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.simulator.mqtt_publisher import (
    MqttPublisher,
    SensorReadingGenerator,
    messages,
    sensor_topics,
)
from oee_pipelines.simulator.servers.runtime import free_port

START = datetime(2025, 1, 13, 8, tzinfo=UTC)
TIMEOUT_SECONDS = 300.0
SHARE_GROUP = "bench-ingesters"
SEED_MESSAGES_PER_SECOND = 100_000
# An ingester process that has imported everything, says so, then waits for the start file.
WAITING_INGESTER = """
import pathlib, sys, time
from oee_pipelines.connectors.iot.ingester import main
ready, start = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
ready.touch()
while not start.exists():
    time.sleep(0.002)
sys.exit(main(sys.argv[3:]))
"""


def sensor_registry(count: int = 20) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sensor_id": [f"TEMP-M{i:03d}" for i in range(count)],
            "sensor_type": "temperature",
            "mqtt_topic": [f"factory/MACHINE-{i:03d}/temperature" for i in range(count)],
            "min_expected_value": 10.0,
            "max_expected_value": 90.0,
        }
    )


def build_messages(reading_count: int, batch_size: int) -> list[tuple[str, bytes, int]]:
    sensors = sensor_registry()
    seconds = -(-reading_count // len(sensors))
    readings = SensorReadingGenerator(sensors).readings(START, START + timedelta(seconds=seconds))[
        :reading_count
    ]
    return list(messages(readings, sensor_topics(sensors), batch_size))


def preload(port: int, items: list[tuple[str, bytes, int]]) -> None:
    with MqttPublisher("127.0.0.1", port, client_id="bench-publisher") as publisher:
        publisher.publish(items)
        publisher.wait_until_delivered(TIMEOUT_SECONDS)


def ingester_drain_seconds(
    broker: MosquittoBroker, folder: Path, items: list[tuple[str, bytes, int]]
) -> float:
    config = IngesterConfig("127.0.0.1", broker.port, ("factory/#",), folder / "buffer", "bench-ingester")
    _run_once_to_create_session(config)
    preload(broker.port, items)
    expected_bytes = sum(
        RECORD_HEADER.size + BODY_HEADER.size + len(topic) + len(payload) for topic, payload, _ in items
    )
    stop = threading.Event()
    started = time.perf_counter()
    thread = threading.Thread(target=run_ingester, args=(config, stop), daemon=True)
    thread.start()
    try:
        _wait(lambda: _buffered_bytes(config.buffer_dir) >= expected_bytes)
        return time.perf_counter() - started
    finally:
        stop.set()
        thread.join(TIMEOUT_SECONDS)


def shared_ingesters_drain_seconds(
    broker: MosquittoBroker, folder: Path, items: list[tuple[str, bytes, int]], processes: int
) -> float:
    """`processes` ingester processes in one share group draining `items` into one buffer directory."""
    buffer_dir = folder / "buffer"
    client_ids = [f"bench-member-{index}" for index in range(processes)]
    for client_id in client_ids:  # each member's persistent session, subscribed to the shared filter
        _run_once_to_create_session(
            IngesterConfig(
                "127.0.0.1", broker.port, ("factory/#",), buffer_dir, client_id, share_group=SHARE_GROUP
            )
        )
    preload(broker.port, items)
    expected_bytes = sum(
        RECORD_HEADER.size + BODY_HEADER.size + len(topic) + len(payload) for topic, payload, _ in items
    )
    start = folder / "start"
    members = []
    try:
        for client_id in client_ids:
            ready = folder / f"{client_id}.ready"
            arguments = [
                f"--broker-port={broker.port}", "--topic=factory/#", f"--buffer-dir={buffer_dir}",
                f"--client-id={client_id}", f"--share-group={SHARE_GROUP}",
            ]  # fmt: skip
            log = (folder / f"{client_id}.log").open("wb")
            members.append(
                subprocess.Popen(
                    [sys.executable, "-c", WAITING_INGESTER, str(ready), str(start), *arguments],
                    stdout=log,
                    stderr=log,
                )
            )
            _wait(ready.exists)
        started = time.perf_counter()
        start.touch()
        _wait(lambda: _buffered_bytes(buffer_dir) >= expected_bytes)
        return time.perf_counter() - started
    finally:
        for member in members:
            if member.poll() is None:
                os.kill(member.pid, signal.SIGTERM)
            member.wait(TIMEOUT_SECONDS)


def on_fresh_broker(measure: Callable[[MosquittoBroker, Path], float]) -> float:
    """One measurement on its own broker: an earlier case's offline session would still be dealt (and
    persisted) a copy of every preloaded message, slowing the broker down for the next case."""
    with (
        tempfile.TemporaryDirectory(prefix="oee-bench-mqtt-") as folder,
        MosquittoBroker(Path(folder) / "broker", free_port()) as broker,
    ):
        return measure(broker, Path(folder))


def bare_drain_seconds(broker: MosquittoBroker, items: list[tuple[str, bytes, int]]) -> float:
    _bare_subscriber(broker.port, None).disconnect()  # creates the session
    preload(broker.port, items)
    done = threading.Event()
    started = time.perf_counter()
    client = _bare_subscriber(broker.port, (len(items), done))
    try:
        _wait(done.is_set)
        return time.perf_counter() - started
    finally:
        client.disconnect()
        client.loop_stop()


def _bare_subscriber(port: int, target: tuple[int, threading.Event] | None) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-bare", protocol=MQTTProtocolVersion.MQTTv5
    )
    received = [0]
    subscribed = threading.Event()

    def on_message(*_: object) -> None:
        received[0] += 1
        if target and received[0] >= target[0]:
            target[1].set()

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("factory/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, clean_start=False, properties=properties)
    client.loop_start()
    _wait(subscribed.is_set)
    if target is None:
        client.loop_stop()
    return client


def _run_once_to_create_session(config: IngesterConfig) -> None:
    stop, subscribed = threading.Event(), threading.Event()
    thread = threading.Thread(target=run_ingester, args=(config, stop, subscribed), daemon=True)
    thread.start()
    _wait(subscribed.is_set)
    stop.set()
    thread.join(TIMEOUT_SECONDS)


def _buffered_bytes(buffer_dir: Path) -> int:
    return sum(
        path.stat().st_size
        for path in [*closed_segments(buffer_dir), *open_segments(buffer_dir)]
        if path.exists()
    )


def _wait(condition: object) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark did not finish")
        time.sleep(0.005)


def drain_seconds(items: list[tuple[str, bytes, int]]) -> tuple[float, float, dict[int, float]]:
    """The in-thread ingester, the bare subscriber, then 1 and 2 ingester processes in a share group."""
    ingester = on_fresh_broker(lambda broker, folder: ingester_drain_seconds(broker, folder, items))
    bare = on_fresh_broker(lambda broker, _: bare_drain_seconds(broker, items))
    shared = {
        processes: on_fresh_broker(
            lambda broker, folder, n=processes: shared_ingesters_drain_seconds(broker, folder, items, n)
        )
        for processes in (1, 2)
    }
    return ingester, bare, shared


def run(quick: bool) -> list[dict]:
    cases = [("single reading per message", 5_000 if quick else 50_000, 1)]
    cases.append(("100 readings per message", 50_000 if quick else 1_000_000, 100))
    baseline_name = "bare paho subscriber counting messages"
    rows = []
    for label, reading_count, batch_size in cases:
        items = build_messages(reading_count, batch_size)
        ingester_seconds, bare_seconds, shared_seconds = drain_seconds(items)
        value = reading_count / ingester_seconds
        baseline = reading_count / bare_seconds
        common = {"baseline_name": baseline_name, "baseline_value": baseline}
        figures = {"messages": len(items), "readings": reading_count}
        rows.append(
            {
                "name": f"iot mqtt ingester, {label} (mosquitto -> fsynced buffer)",
                "value": value,
                "unit": "readings/s",
                "seconds": ingester_seconds,
                **common,
                "ratio": value / baseline,
                **figures,
            }
        )
        for processes, seconds in shared_seconds.items():
            shared = reading_count / seconds
            rows.append(
                {
                    "name": f"iot mqtt ingesters, {processes} process{'es' if processes > 1 else ''} in a "
                    f"share group, {label} (mosquitto -> fsynced buffer)",
                    "value": shared,
                    "unit": "readings/s",
                    "seconds": seconds,
                    **common,
                    "ratio": shared / baseline,
                    "messages_per_second": len(items) / seconds,
                    **figures,
                }
            )
        one_process = len(items) / shared_seconds[1]
        bare_messages = len(items) / bare_seconds
        needed = math.ceil(SEED_MESSAGES_PER_SECOND / one_process)
        bare_needed = math.ceil(SEED_MESSAGES_PER_SECOND / bare_messages)
        rows.append(
            {
                "name": f"iot mqtt ingester processes for the seed's 100K messages/s, {label} "
                "(from the 1-process rate)",
                "value": needed,
                "unit": "processes",
                "baseline_name": "bare paho subscriber processes for the same rate",
                "baseline_value": bare_needed,
                "ratio": bare_needed / needed,
                "messages_per_second_per_process": one_process,
                **figures,
            }
        )
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)
