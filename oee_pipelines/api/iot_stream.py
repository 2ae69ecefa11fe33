"""The live IoT stream: `ws/iot/sensors/{sensor_types}` pushes sensor readings as they are published.

The ingester is its own process, so the API subscribes to the broker itself: one MQTT connection per
API process (a random client id, clean start, QoS 0: a live view keeps nothing while nobody watches),
fanned out in asyncio to every WebSocket. Each message is decoded once on paho's network thread,
resolved against the `iot_sensors` registry (refreshed every 30 s) to its organization, sensor type
and machine, serialised once, and handed to the event loop; there it is offered to the subscribers of
that (organization, sensor type) only. Every subscriber has a bounded queue: a slow socket loses its
oldest readings instead of holding up the others. No thread per subscriber: one coroutine sends, one
notices the client leaving.

    ws://host:8000/ws/iot/sensors/temperature,vibration?api_key=oee_...   (or `all`)

Each message: `{"type": "iot_sensor", "sensor_id", "sensor_type", "value", "timestamp", "machine_id"}`.
A missing, unknown or revoked key is refused at the handshake (HTTP 403); a key sees only its own
organization's sensors.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pandas as pd
from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from psycopg_pool import ConnectionPool

from oee_pipelines.api.auth import ApiIdentity, identify
from oee_pipelines.api.deps import ApiServices
from oee_pipelines.connectors.iot.config import MqttSettings
from oee_pipelines.domain.iot_mapping import (
    GENERIC_MEASUREMENT,
    PayloadShapeError,
    SensorLookup,
    explode_payload,
)
from oee_pipelines.services.iot.sources import mqtt_settings
from oee_pipelines.settings import Settings

logger = logging.getLogger(__name__)

ALL_TYPES = "all"
SUBSCRIBER_QUEUE_LIMIT = 1000
REGISTRY_REFRESH_SECONDS = 30.0
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
_SENSOR_TYPE = re.compile(r"^\w+$")
REGISTRY_SQL = """SELECT sensor_id, org_id, sensor_type, machine_id, mqtt_topic, http_endpoint, is_active
                  FROM iot_sensors"""

StreamEvent = tuple[str, str, str]  # organization, sensor type, the message as JSON text


class SensorDirectory:
    """The registry as the stream needs it: which sensor a reading is, and whose."""

    def __init__(self, sensors: pd.DataFrame) -> None:
        self.lookup = SensorLookup(sensors)
        self.sensors = {
            str(row.sensor_id): (str(row.org_id), str(row.sensor_type), str(row.machine_id))
            for row in sensors.itertuples()
        }

    def events(self, topic: str, payload: bytes | bytearray) -> list[StreamEvent]:
        """The stream messages of one MQTT message; unknown sensors and malformed payloads give none."""
        try:
            readings = explode_payload(orjson.loads(payload))
        except (orjson.JSONDecodeError, PayloadShapeError):
            return []
        events = []
        for sensor_id, measurement, value, stamp in readings:
            resolved = self.lookup.resolve(sensor_id, topic)
            known = self.sensors.get(resolved) if resolved else None
            if known is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            org_id, own_type, machine_id = known
            sensor_type = own_type if measurement == GENERIC_MEASUREMENT else str(measurement)
            message = {
                "type": "iot_sensor",
                "sensor_id": resolved,
                "sensor_type": sensor_type,
                "value": value,
                "timestamp": stamp,
                "machine_id": machine_id,
            }
            events.append((org_id, sensor_type, orjson.dumps(message).decode()))
        return events


@dataclass(eq=False)
class Subscriber:
    """One WebSocket's bounded queue; `offer` never blocks (a full queue drops its oldest message)."""

    org_id: str
    sensor_types: frozenset[str] | None  # None: every type
    limit: int = SUBSCRIBER_QUEUE_LIMIT
    dropped: int = 0
    queue: deque[str] = field(init=False)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.queue = deque(maxlen=self.limit)

    def index_keys(self) -> list[tuple[str, str]]:
        return [(self.org_id, sensor_type) for sensor_type in (self.sensor_types or {ALL_TYPES})]

    def offer(self, message: str) -> None:
        if len(self.queue) == self.limit:
            self.dropped += 1
        self.queue.append(message)
        self.wakeup.set()


class LiveFeed:
    """One broker subscription for the whole API process, fanned out to its subscribers."""

    def __init__(self, broker: MqttSettings, refresh_seconds: float = REGISTRY_REFRESH_SECONDS) -> None:
        self.broker = broker
        self.refresh_seconds = refresh_seconds
        self.subscribers: dict[tuple[str, str], set[Subscriber]] = {}
        self.subscriber_count = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: mqtt.Client | None = None
        self._load_registry: Callable[[], pd.DataFrame] | None = None
        self._directory: SensorDirectory | None = None
        self._directory_loaded = float("-inf")
        self._start_lock = threading.Lock()

    def start(self, load_registry: Callable[[], pd.DataFrame]) -> None:
        """Connect once, on the event loop the subscribers live on; later calls do nothing."""
        with self._start_lock:
            if self._client is not None:
                return
            self._loop = asyncio.get_running_loop()
            self._load_registry = load_registry
            client_id = f"oee-api-stream-{os.getpid()}-{secrets.token_hex(4)}"
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
            )
            client.on_connect = self._on_connect
            client.on_message = self._on_message
            if self.broker.username:
                client.username_pw_set(self.broker.username, self.broker.password)
            client.reconnect_delay_set(min_delay=1, max_delay=30)
            # Asynchronous: a broker that is down is retried in the background, never blocking a socket.
            client.connect_async(self.broker.broker_host, self.broker.broker_port, clean_start=True)
            client.loop_start()
            self._client = client

    def stop(self) -> None:
        with self._start_lock:
            if self._client is not None:
                self._client.disconnect()
                self._client.loop_stop()
                self._client = None

    def add(self, subscriber: Subscriber) -> None:
        for key in subscriber.index_keys():
            self.subscribers.setdefault(key, set()).add(subscriber)
        self.subscriber_count += 1

    def remove(self, subscriber: Subscriber) -> None:
        for key in subscriber.index_keys():
            group = self.subscribers.get(key, set())
            group.discard(subscriber)
            if not group:
                self.subscribers.pop(key, None)
        self.subscriber_count -= 1

    def dispatch(self, events: Iterable[StreamEvent]) -> None:
        """On the event loop: offer each message to its (organization, type) and `all` subscribers."""
        for org_id, sensor_type, message in events:
            for key in ((org_id, sensor_type), (org_id, ALL_TYPES)):
                for subscriber in self.subscribers.get(key, ()):
                    subscriber.offer(message)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            logger.error("IoT stream: broker refused the connection: %s", reason)
            return
        client.subscribe([(topic, 0) for topic in self.broker.topics])

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not self.subscriber_count or self._loop is None:
            return
        directory = self._current_directory()
        if directory is None:
            return
        events = directory.events(message.topic, message.payload)
        if events:
            self._loop.call_soon_threadsafe(self.dispatch, events)

    def _current_directory(self) -> SensorDirectory | None:
        if time.monotonic() - self._directory_loaded < self.refresh_seconds or self._load_registry is None:
            return self._directory
        self._directory_loaded = time.monotonic()
        try:
            self._directory = SensorDirectory(self._load_registry())
        except Exception:  # the warehouse may be restarting: keep streaming with the registry we have
            logger.exception("IoT stream: cannot refresh the sensor registry; keeping the previous one")
        return self._directory


def load_registry(pool: ConnectionPool) -> pd.DataFrame:
    with pool.connection() as conn, conn.cursor() as cursor:
        cursor.execute(REGISTRY_SQL)
        columns = [column.name for column in cursor.description or []]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def requested_types(sensor_types: str) -> frozenset[str] | None:
    """`temperature,vibration` -> those types; `all` -> None; ValueError for anything else."""
    if sensor_types == ALL_TYPES:
        return None
    names = frozenset(name.strip() for name in sensor_types.split(","))
    if not names or not all(_SENSOR_TYPE.match(name) for name in names):
        raise ValueError(f"sensor types must be `all` or comma-separated names, got {sensor_types!r}")
    return names


def build_router(settings: Settings) -> APIRouter:
    """The stream's router; its broker is the `iot.mqtt` section of the connector YAML (none: refused)."""
    broker = mqtt_settings(settings.sources.iot)
    feed = LiveFeed(broker) if broker else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if feed is not None:
            feed.stop()

    router = APIRouter(lifespan=lifespan)

    async def stream(websocket: WebSocket, sensor_types: str) -> None:
        try:
            types = requested_types(sensor_types)
        except ValueError as error:
            await websocket.close(code=POLICY_VIOLATION, reason=str(error))
            return
        services: ApiServices = websocket.app.state.services
        identity = await _identify(websocket, services)
        if identity is None:
            await websocket.close(code=POLICY_VIOLATION, reason="missing, unknown or revoked API key")
            return
        await websocket.accept()
        if feed is None:
            await websocket.close(code=TRY_AGAIN_LATER, reason="no IoT broker configured (iot.mqtt)")
            return
        feed.start(lambda: load_registry(services.pool))
        await _serve(websocket, feed, Subscriber(identity.org_id, types))

    router.add_api_websocket_route("/ws/iot/sensors/{sensor_types}", stream, name="iot_sensor_stream")
    router.add_api_websocket_route("/ws/iot/sensors/{sensor_types}/", stream)
    return router


async def _identify(websocket: WebSocket, services: ApiServices) -> ApiIdentity | None:
    key = websocket.query_params.get("api_key") or websocket.headers.get("x-api-key")
    if not key:
        return None

    def lookup() -> ApiIdentity | None:
        with services.pool.connection() as conn:
            return identify(conn, key)

    return await run_in_threadpool(lookup)


async def _serve(websocket: WebSocket, feed: LiveFeed, subscriber: Subscriber) -> None:
    feed.add(subscriber)
    sender = asyncio.create_task(_send_queued(websocket, subscriber))
    try:
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass  # the client has nothing to say; receiving is how its leaving is noticed
    finally:
        feed.remove(subscriber)
        sender.cancel()
        with suppress(asyncio.CancelledError):
            await sender


async def _send_queued(websocket: WebSocket, subscriber: Subscriber) -> None:
    with suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await subscriber.wakeup.wait()
            subscriber.wakeup.clear()
            while subscriber.queue:
                await websocket.send_text(subscriber.queue.popleft())
