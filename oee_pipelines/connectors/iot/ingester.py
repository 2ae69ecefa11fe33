"""The MQTT ingester: a long-running subscriber that makes every message durable before acknowledging it.

MQTT v5 with a fixed client id, `clean_start=False` and a session expiry interval, so the broker
keeps the subscriptions and queues QoS 1 messages while the ingester is down. Messages arrive with
`manual_ack=True`; they are appended to the local buffer and acknowledged (PUBACK) only after the
batch they belong to was flushed and fsynced: every `flush_max_messages` messages, or at the latest
`flush_interval_seconds` after the oldest unsynced one. A crash loses nothing: an unacknowledged
message is sent again by the broker (a duplicate the mapping removes by key).

The fsync is a group commit on the caller's thread while paho's network thread keeps reading and
appending, and a committed batch is acknowledged with one write of all its PUBACKs.

With `share_group` the ingester subscribes to `$share/<group>/<topic>` (MQTT 5 shared subscriptions):
several ingester processes, each with its own client id (session) and buffer writer, split the topics'
messages. mosquitto deals messages round-robin to the group's *sessions*, online or not, so a member
that dies keeps its share (in flight or dealt to it while down) in its session until it is restarted
with the same client id: supervise every member and restart it (docs/iot.md, "Scaling out").

    python -m oee_pipelines.connectors.iot.ingester --broker-host 127.0.0.1 --broker-port 1883 \
        --topic 'factory/#' --buffer-dir /var/lib/oee/iot-buffer --client-id oee-ingester-1 \
        [--share-group oee-ingesters]
"""

from __future__ import annotations

import argparse
import logging
import struct
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pandas as pd
from paho.mqtt.client import PUBACK
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from oee_pipelines.connectors.iot.buffer import BufferWriter, fsync_descriptors, writer_name_for
from oee_pipelines.connectors.iot.intake import MessageIntake, read_sensor_registry
from oee_pipelines.connectors.iot.termination import stop_on_termination
from oee_pipelines.observability.exposition import serving_metrics
from oee_pipelines.observability.metrics import (
    IOT_BUFFER_LAG,
    IOT_BUFFERED,
    IOT_FSYNC_BATCHES,
    IOT_QUARANTINED,
    IOT_RECEIVED,
)

logger = logging.getLogger(__name__)
SYSTEM = "mqtt"
_PUBACK_WORD = (PUBACK << 24) | (2 << 16)  # fixed header, remaining length 2; the packet id is added


@dataclass(frozen=True)
class IngesterConfig:
    broker_host: str
    broker_port: int
    topics: tuple[str, ...]
    buffer_dir: Path
    client_id: str
    sensors: pd.DataFrame | None = None
    username: str | None = None
    password: str | None = None
    session_expiry_seconds: int = 7 * 24 * 3600
    # Receive Maximum: how many unacknowledged messages the broker may have in flight to us. It must
    # exceed flush_max_messages, or the broker stops sending before a batch is full.
    receive_maximum: int = 2000
    flush_max_messages: int = 500
    flush_interval_seconds: float = 0.005
    segment_max_bytes: int = 64 * 1024 * 1024
    segment_max_seconds: float = 60.0
    keepalive_seconds: int = 30
    metrics_port: int | None = None  # serve Prometheus metrics on 127.0.0.1 (main() only)
    # MQTT 5 shared subscription: ingesters with the same group split the topics' messages between them.
    # Each keeps its own client id (its own persistent session) and its own buffer writer.
    share_group: str | None = None


@dataclass(frozen=True)
class IngesterStats:
    accepted: int
    quarantined: int
    recovered_segments: int


class _Ingester:
    """Callbacks on paho's network thread; the caller's thread commits (fsync, then PUBACK) and rotates.

    A group commit: the network thread only appends to the buffer (under `lock`); the committing
    thread takes the pending message ids and hands the appended bytes to the OS under the lock, then
    fsyncs and acknowledges *outside* it, so reading from the broker never waits for the disk.
    """

    def __init__(
        self, config: IngesterConfig, client: mqtt.Client, writer: BufferWriter, subscribed: threading.Event
    ) -> None:
        self.config = config
        self.subscribed = subscribed
        self.client = client
        self.writer = writer
        self.intake = MessageIntake(writer, config.sensors)
        self.lock = threading.Lock()
        self.commit_due = threading.Event()  # set by the network thread when a batch is full
        self.pending: list[tuple[int, int]] = []
        self.oldest_pending = 0.0
        self.received_metric = IOT_RECEIVED.labels(SYSTEM)
        self.buffered_metric = IOT_BUFFERED.labels(SYSTEM)
        self.quarantined_metric = IOT_QUARANTINED.labels(SYSTEM)
        self.lag_metric = IOT_BUFFER_LAG.labels(SYSTEM)

    @property
    def subscriptions(self) -> list[str]:
        return subscription_filters(self.config.topics, self.config.share_group)

    def on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, properties: Any
    ) -> None:
        if reason.is_failure:
            logger.error("broker refused the connection: %s", reason)
            return
        logger.info("connected (session present: %s)", flags.session_present)
        client.subscribe([(topic, 1) for topic in self.subscriptions])

    def on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode], properties: Any
    ) -> None:
        refused = [(topic, r) for topic, r in zip(self.subscriptions, reasons, strict=False) if r.is_failure]
        for topic, reason in refused:
            logger.error("subscription to %s refused: %s", topic, reason)
        if not refused:
            logger.info("subscribed to %s", ", ".join(self.subscriptions))
            self.subscribed.set()

    def on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.received_metric.inc()
            if self.intake.accept(SYSTEM, message.topic, message.payload):
                self.buffered_metric.inc()
            else:
                self.quarantined_metric.inc()
            if not self.pending:
                self.oldest_pending = time.monotonic()
            self.pending.append((message.mid, message.qos))
            if len(self.pending) >= self.config.flush_max_messages:
                self.commit_due.set()

    def commit_if_due(self) -> None:
        """Commit the pending messages once a batch is full or the oldest waited its interval."""
        with self.lock:
            waited = time.monotonic() - self.oldest_pending
            self.lag_metric.set(waited if self.pending else 0.0)
            full = len(self.pending) >= self.config.flush_max_messages
            due = bool(self.pending) and (full or waited >= self.config.flush_interval_seconds)
            if not self.pending:
                self.writer.rotate_if_due()
        if due:
            self.commit()

    def commit(self) -> None:
        """Make every appended message durable, then acknowledge it (call from one thread only)."""
        with self.lock:
            batch, self.pending = self.pending, []
            self.commit_due.clear()
            descriptors = self.writer.flush()
        fsync_descriptors(descriptors)  # the network thread keeps appending meanwhile
        if batch:
            IOT_FSYNC_BATCHES.labels(SYSTEM).inc()
        acknowledge(self.client, batch)


def acknowledge(client: mqtt.Client, messages: Sequence[tuple[int, int]]) -> None:
    """PUBACK every QoS 1 message of a committed batch in one socket write.

    paho's `ack` queues one packet per message, each waking the network thread through its socket pair
    and sent with its own send(2); the same PUBACK bytes (MQTT 5 allows the 2-byte form: success, no
    properties) concatenated into one queued packet are one wake-up and one send for the whole batch.
    """
    queue = getattr(client, "_packet_queue", None)
    mids = [mid for mid, qos in messages if qos == 1]
    if queue is None or len(mids) < 2:  # a paho without it, or nothing to batch: the public call
        for mid, qos in messages:
            client.ack(mid, qos)
        return
    # Each PUBACK is the 4 bytes 0x40 0x02 <packet id, 2 bytes>: one big-endian 32-bit word per message.
    queue(PUBACK, struct.pack(f">{len(mids)}I", *[_PUBACK_WORD | mid for mid in mids]), 0, 1)
    for mid, qos in messages:
        if qos == 2:
            client.ack(mid, qos)


def subscription_filters(topics: Sequence[str], share_group: str | None) -> list[str]:
    """The topic filters to subscribe to: `$share/<group>/<topic>` when the ingester is one of a group."""
    if not share_group:
        return list(topics)
    if any(character in share_group for character in "/+#"):
        raise ValueError(f"share group {share_group!r} may not contain '/', '+' or '#'")
    return [f"$share/{share_group}/{topic}" for topic in topics]


def run_ingester(
    config: IngesterConfig,
    stop_event: threading.Event | None = None,
    subscribed: threading.Event | None = None,
) -> IngesterStats:
    """Ingest until `stop_event` is set; then make everything durable, acknowledge it and disconnect.

    `subscribed` is set once the broker granted every subscription.
    """
    subscription_filters(config.topics, config.share_group)  # refuse a bad group before connecting
    stop = stop_event or threading.Event()
    writer = BufferWriter(
        config.buffer_dir,
        writer_name_for(config.client_id),
        segment_max_bytes=config.segment_max_bytes,
        segment_max_seconds=config.segment_max_seconds,
    )
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=config.client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    ingester = _Ingester(config, client, writer, subscribed or threading.Event())
    client.on_connect = ingester.on_connect
    client.on_subscribe = ingester.on_subscribe
    client.on_message = ingester.on_message
    client.on_connect_fail = lambda *_: logger.warning("cannot reach the broker; retrying")
    if config.username:
        client.username_pw_set(config.username, config.password)
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    try:
        _connect(client, config)
        client.loop_start()
        while not stop.is_set():
            ingester.commit_due.wait(config.flush_interval_seconds)
            ingester.commit_if_due()
        ingester.commit()
        client.disconnect()
        client.loop_stop()
    finally:
        writer.close()
    return IngesterStats(ingester.intake.accepted, ingester.intake.quarantined, len(writer.recovered))


def _connect(client: mqtt.Client, config: IngesterConfig) -> None:
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = config.session_expiry_seconds
    properties.ReceiveMaximum = config.receive_maximum
    # Asynchronous: a broker that is not up yet (or restarts) is retried by paho's loop, not fatal.
    client.connect_async(
        config.broker_host,
        config.broker_port,
        keepalive=config.keepalive_seconds,
        clean_start=False,
        properties=properties,
    )


def parse_args(argv: Sequence[str] | None) -> IngesterConfig:
    parser = argparse.ArgumentParser(
        description="Subscribe to MQTT sensor topics into a durable local buffer."
    )
    parser.add_argument("--broker-host", default="127.0.0.1")
    parser.add_argument("--broker-port", type=int, default=1883)
    parser.add_argument("--topic", action="append", required=True, help="topic filter; repeat for more")
    parser.add_argument("--buffer-dir", type=Path, required=True)
    parser.add_argument("--client-id", required=True, help="stable id: the broker keeps its session")
    parser.add_argument("--sensors", type=Path, help="iot_sensors CSV/Parquet: quarantine unknown sensors")
    parser.add_argument("--username")
    parser.add_argument("--password")
    parser.add_argument("--flush-max-messages", type=int, default=500)
    parser.add_argument("--flush-interval-ms", type=float, default=5.0)
    parser.add_argument("--segment-max-seconds", type=float, default=60.0)
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on 127.0.0.1:PORT")
    parser.add_argument(
        "--share-group", help="MQTT 5 shared subscription group: ingesters of one group split the messages"
    )
    args = parser.parse_args(argv)
    return IngesterConfig(
        broker_host=args.broker_host,
        broker_port=args.broker_port,
        topics=tuple(args.topic),
        buffer_dir=args.buffer_dir,
        client_id=args.client_id,
        sensors=read_sensor_registry(args.sensors) if args.sensors else None,
        username=args.username,
        password=args.password,
        flush_max_messages=args.flush_max_messages,
        flush_interval_seconds=args.flush_interval_ms / 1000.0,
        segment_max_seconds=args.segment_max_seconds,
        metrics_port=args.metrics_port,
        share_group=args.share_group,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    stop = stop_on_termination()
    metrics = serving_metrics(config.metrics_port) if config.metrics_port is not None else nullcontext()
    with metrics:
        stats = run_ingester(config, stop)
    logger.info("stopped: %d messages buffered, %d quarantined", stats.accepted, stats.quarantined)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
