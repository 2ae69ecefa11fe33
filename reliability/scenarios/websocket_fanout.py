"""10,000 concurrent WebSocket subscribers to the live IoT stream (loopback): connected, latency, memory.

`oee api` runs as its own process (one uvicorn worker) with the `iot.mqtt` broker configured (a real
mosquitto on loopback) and the simulated plant's sensor registry. One asyncio client process opens
every socket to `ws/iot/sensors/temperature` (at most 500 handshakes in flight). A warm-up reading is
published until every socket has seen one (so the API's broker subscription and every subscriber are
in place); then one reading a second, numbered, is published, and each socket records when each
number arrived. Memory per connection is the API process's RSS growth over the connections opened.
Lost: any numbered reading a socket did not receive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import numpy as np
import orjson
import paho.mqtt.client as mqtt
import psycopg
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from oee_pipelines.api.auth import create_api_key
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.observability.exposition import sample_value
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines.storage.migrations import migrate
from reliability.api_process import ApiProcess, running_api
from reliability.common import ScenarioResult, load_plant_reference, scratch_folder, scratch_postgres

SENSOR_TYPE = "temperature"
HANDSHAKES_IN_FLIGHT = 500
WARM_UP = -1


@dataclass
class Fanout:
    sockets: int
    readings: int
    connected: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    warmed: int = 0
    received: list[int] = field(default_factory=list)  # numbered readings per socket
    latencies: list[tuple[int, float]] = field(default_factory=list)  # (reading, seconds)
    sent_at: dict[int, float] = field(default_factory=dict)


async def subscriber(
    session: aiohttp.ClientSession, url: str, gate: asyncio.Semaphore, fanout: Fanout
) -> None:
    async with gate:
        try:
            socket = await session.ws_connect(url, heartbeat=None, autoping=True)
        except (aiohttp.ClientError, TimeoutError) as error:
            fanout.refused[type(error).__name__] = fanout.refused.get(type(error).__name__, 0) + 1
            return
    fanout.connected += 1
    warmed, numbered = False, set()
    try:
        async for message in socket:  # ends when the scenario closes or cancels it
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            arrived = time.time()
            value = int(orjson.loads(message.data)["value"])
            if value == WARM_UP:
                fanout.warmed += not warmed
                warmed = True
            elif value not in numbered:
                numbered.add(value)
                fanout.latencies.append((value, arrived - fanout.sent_at.get(value, arrived)))
                if len(numbered) == fanout.readings:
                    break
    finally:
        fanout.received.append(len(numbered))
        await socket.close()


class Publisher:
    def __init__(self, port: int, topic: str, sensor_id: str) -> None:
        self.topic, self.sensor_id = topic, sensor_id
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reliability-fanout")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, value: int) -> None:
        payload = {"sensor_id": self.sensor_id, "value": value, "timestamp": datetime.now(UTC).isoformat()}
        self.client.publish(self.topic, orjson.dumps(payload), qos=1).wait_for_publish(timeout=10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def drive(fanout: Fanout, url: str, publisher: Publisher, api: ApiProcess) -> dict[str, float]:
    """Open every socket, warm up, publish the numbered readings; returns the server-side figures."""
    gate = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=0)
    figures: dict[str, float] = {"rss_before": api.rss_bytes()}
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=None, connect=60)
    ) as session:
        started = time.monotonic()
        tasks = [asyncio.create_task(subscriber(session, url, gate, fanout)) for _ in range(fanout.sockets)]
        await _until(lambda: fanout.connected + sum(fanout.refused.values()) >= fanout.sockets, 180)
        figures["connect_seconds"] = time.monotonic() - started
        await _until_with(lambda: fanout.warmed >= fanout.connected, 60, lambda: publisher.publish(WARM_UP))
        figures["server_sockets"] = sample_value(
            await asyncio.to_thread(api.metrics), "oee_api_websocket_connections"
        )
        figures["rss_connected"] = api.rss_bytes()
        for number in range(fanout.readings):
            fanout.sent_at[number] = time.time()
            await asyncio.to_thread(publisher.publish, number)
            await asyncio.sleep(1.0)
        await _until(lambda: len(fanout.received) >= fanout.connected, 120, fail=False)
        for task in tasks:
            task.cancel()  # sockets still waiting for a reading that never came
        await asyncio.gather(*tasks, return_exceptions=True)
    return figures


async def _until(condition: Callable[[], bool], seconds: float, fail: bool = True) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            if fail:
                raise TimeoutError(f"fan-out: condition not met within {seconds:.0f} s")
            return
        await asyncio.sleep(0.1)


async def _until_with(condition: Callable[[], bool], seconds: float, action: Callable[[], None]) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"fan-out warm-up: not every socket received a reading within {seconds:.0f} s")
        await asyncio.to_thread(action)
        await asyncio.sleep(0.5)


def prepare_warehouse(url: str, plant: SimulatedPlant) -> str:
    """Migrated, the plant's reference data and sensor registry loaded; returns a `demo` API key."""
    migrate(url)
    load_plant_reference(
        WarehouseResource(database_url=url), plant, [("iot_sensors", plant.iot_sensors(), ["sensor_id"])]
    )
    with psycopg.connect(url, autocommit=True) as conn:
        return create_api_key(conn, "demo", "reliability fan-out")[1]


def run(short: bool) -> ScenarioResult:
    sockets, readings = (500, 5) if short else (10_000, 10)
    plant = SimulatedPlant(load_plant_description(), seed=42)
    sensors = plant.iot_sensors()
    sensor = sensors[(sensors["protocol"] == "MQTT") & (sensors["sensor_type"] == SENSOR_TYPE)].iloc[0]
    fanout = Fanout(sockets, readings)
    with (
        scratch_folder("ws") as folder,
        scratch_postgres() as scratch,
        MosquittoBroker(folder / "broker", free_port()) as broker,
    ):
        key = prepare_warehouse(scratch.url, plant)
        config = folder / "connectors.yaml"
        config.write_text(
            yaml.safe_dump(
                {"iot": {"mqtt": {"broker": "127.0.0.1", "port": broker.port, "topics": ["factory/#"]}}}
            )
        )
        with running_api(scratch.url, {"OEE_CONFIG_FILE": str(config)}) as api:
            publisher = Publisher(broker.port, str(sensor["mqtt_topic"]), str(sensor["sensor_id"]))
            url = api.base_url.replace("http://", "ws://") + f"/ws/iot/sensors/{SENSOR_TYPE}?api_key={key}"
            try:
                figures = asyncio.run(drive(fanout, url, publisher, api))
            finally:
                publisher.close()
    return _result(fanout, figures)


def _result(fanout: Fanout, figures: dict[str, float]) -> ScenarioResult:
    latencies_ms = np.array([seconds for _, seconds in fanout.latencies]) * 1000
    first_ms = np.array([seconds for reading, seconds in fanout.latencies if reading == 0]) * 1000
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99]) if len(latencies_ms) else (0, 0, 0)
    first50, first95 = np.percentile(first_ms, [50, 95]) if len(first_ms) else (0, 0)
    growth = figures["rss_connected"] - figures["rss_before"]
    expected = fanout.connected * fanout.readings
    delivered = sum(fanout.received)
    result = ScenarioResult(f"{fanout.sockets:,} WebSocket subscribers to ws/iot/sensors/{SENSOR_TYPE}")
    connect_seconds, per_connection_kib = figures["connect_seconds"], growth / max(fanout.connected, 1) / 1024
    result.figures = {
        "connected (client)": f"{fanout.connected:,} of {fanout.sockets:,} in {connect_seconds:.1f} s",
        "connected (server gauge)": f"{figures['server_sockets']:,.0f}",
        "readings delivered": f"{delivered:,} of {expected:,} "
        f"({fanout.readings} readings x {fanout.connected:,} sockets)",
        "delivery latency ms, first reading": f"p50 {first50:.0f}  p95 {first95:.0f}  "
        f"max {first_ms.max(initial=0):.0f}",
        "delivery latency ms, all readings": f"p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}  "
        f"max {latencies_ms.max(initial=0):.0f}",
        "API memory": f"{figures['rss_before'] / 2**20:.0f} MiB -> "
        f"{figures['rss_connected'] / 2**20:.0f} MiB, {per_connection_kib:.1f} KiB per connection",
    }
    result.lost += [f"{count} sockets refused: {what}" for what, count in fanout.refused.items()]
    if delivered != expected:
        result.lost.append(f"{expected - delivered:,} readings not delivered")
    return result
