"""HTTP polling connector: GET each sensor endpoint on its own interval into the durable IoT buffer.

One asyncio task per endpoint (httpx.AsyncClient, per-request timeout). A failed poll (connection
error, timeout, HTTP error) is retried with exponential backoff, honouring `Retry-After`, then the
endpoint returns to its interval. The body is stored as the message payload with the endpoint URL as
topic (`source_system` http); a reading without `sensor_id` gets the endpoint's, one without a
timestamp gets the poll time (as the seed did). Every poll is fsynced before the next.

    python -m oee_pipelines.connectors.iot.http_poller --config iot_config.yml --buffer-dir DIR
    python -m oee_pipelines.connectors.iot.http_poller --sensors iot_sensors.csv \
        --base-url http://sensors.local --buffer-dir DIR
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import yaml

from oee_pipelines.connectors.http import retry_after_seconds
from oee_pipelines.connectors.iot.buffer import BufferWriter
from oee_pipelines.connectors.iot.intake import MessageIntake, read_sensor_registry
from oee_pipelines.connectors.iot.termination import stop_on_termination

logger = logging.getLogger(__name__)
SYSTEM = "http"
STOP_CHECK_SECONDS = 0.05
DEFAULT_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class PollEndpoint:
    url: str
    interval_seconds: float
    sensor_id: str
    machine_id: str | None = None


@dataclass(frozen=True)
class PollerConfig:
    endpoints: tuple[PollEndpoint, ...]
    buffer_dir: Path
    writer_name: str = "http-poller"
    sensors: pd.DataFrame | None = None
    timeout_seconds: float = 10.0
    backoff_initial_seconds: float = 1.0
    backoff_max_seconds: float = 300.0


@dataclass
class PollerStats:
    polls: int = 0
    failures: int = 0
    failures_by_url: dict[str, int] = field(default_factory=dict)


class _PollFailed(Exception):
    def __init__(self, reason: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_seconds = retry_after_seconds


def run_poller(config: PollerConfig, stop_event: threading.Event | None = None) -> PollerStats:
    """Poll every endpoint until `stop_event` is set."""
    return asyncio.run(poll_endpoints(config, stop_event or threading.Event()))


async def poll_endpoints(config: PollerConfig, stop: threading.Event) -> PollerStats:
    stats = PollerStats()
    writer = BufferWriter(config.buffer_dir, config.writer_name)
    intake = MessageIntake(writer, config.sensors)
    try:
        async with httpx.AsyncClient(timeout=config.timeout_seconds) as client:
            tasks = [
                _poll_endpoint(endpoint, client, intake, config, stop, stats) for endpoint in config.endpoints
            ]
            await asyncio.gather(*tasks)
    finally:
        writer.close()
    return stats


async def _poll_endpoint(
    endpoint: PollEndpoint,
    client: httpx.AsyncClient,
    intake: MessageIntake,
    config: PollerConfig,
    stop: threading.Event,
    stats: PollerStats,
) -> None:
    failures = 0
    while not stop.is_set():
        delay = endpoint.interval_seconds
        try:
            payload = await _fetch(client, endpoint)
            received = time.time_ns()
            intake.accept(SYSTEM, endpoint.url, with_defaults(payload, endpoint, received), received)
            intake.writer.sync()
            stats.polls += 1
            failures = 0
        except _PollFailed as failure:
            failures += 1
            stats.failures += 1
            stats.failures_by_url[endpoint.url] = stats.failures_by_url.get(endpoint.url, 0) + 1
            backoff = config.backoff_initial_seconds * 2 ** (failures - 1)
            delay = min(max(backoff, failure.retry_after_seconds or 0.0), config.backoff_max_seconds)
            logger.warning(
                "poll of %s failed (%d in a row): %s; next in %.1f s", endpoint.url, failures, failure, delay
            )
        await _sleep_unless_stopped(delay, stop)


async def _fetch(client: httpx.AsyncClient, endpoint: PollEndpoint) -> bytes:
    try:
        response = await client.get(endpoint.url)
    except httpx.TransportError as error:
        raise _PollFailed(repr(error)) from error
    if response.status_code >= 400:
        raise _PollFailed(f"HTTP {response.status_code}", retry_after_seconds(response))
    return response.content


def with_defaults(body: bytes, endpoint: PollEndpoint, receive_ns: int) -> bytes:
    """The body with the endpoint's sensor_id and the poll time filled in where a reading lacks them."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body  # the intake quarantines it as it is
    items = decoded if isinstance(decoded, list) else [decoded]
    poll_time = datetime.fromtimestamp(receive_ns / 1e9, UTC).isoformat().replace("+00:00", "Z")
    for item in items:
        if isinstance(item, dict):
            _fill(item, endpoint, poll_time)
    return orjson.dumps(decoded)


def _fill(item: dict[str, Any], endpoint: PollEndpoint, poll_time: str) -> None:
    if "values" not in item:
        item.setdefault("sensor_id", endpoint.sensor_id)
    if "timestamp" not in item and "ts" not in item:
        item["timestamp"] = poll_time


async def _sleep_unless_stopped(seconds: float, stop: threading.Event) -> None:
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(min(STOP_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))


def endpoints_from_config(config: dict[str, Any]) -> tuple[PollEndpoint, ...]:
    """The seed's `iot.http_polling.endpoints` list (url, interval_seconds, sensor_id, machine_id)."""
    entries = config.get("iot", {}).get("http_polling", {}).get("endpoints", [])
    return tuple(
        PollEndpoint(
            url=str(entry["url"]),
            interval_seconds=float(entry.get("interval_seconds", DEFAULT_INTERVAL_SECONDS)),
            sensor_id=str(entry["sensor_id"]),
            machine_id=entry.get("machine_id"),
        )
        for entry in entries
    )


def endpoints_from_sensors(sensors: pd.DataFrame, base_url: str) -> tuple[PollEndpoint, ...]:
    """One endpoint per active HTTP sensor of the `iot_sensors` registry."""
    http = sensors[(sensors["protocol"] == "HTTP") & sensors["http_endpoint"].notna()]
    return tuple(
        PollEndpoint(
            url=base_url.rstrip("/") + str(row.http_endpoint),
            interval_seconds=DEFAULT_INTERVAL_SECONDS
            if pd.isna(row.polling_interval_seconds)
            else float(row.polling_interval_seconds),
            sensor_id=str(row.sensor_id),
            machine_id=str(row.machine_id),
        )
        for row in http.itertuples()
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description="Poll HTTP sensor endpoints into the durable IoT buffer.")
    parser.add_argument("--config", type=Path, help="YAML with iot.http_polling.endpoints")
    parser.add_argument("--sensors", type=Path, help="iot_sensors CSV/Parquet (with --base-url)")
    parser.add_argument("--base-url", help="prefix of the registry's http_endpoint paths")
    parser.add_argument("--buffer-dir", type=Path, required=True)
    parser.add_argument("--writer-name", default="http-poller")
    args = parser.parse_args(argv)
    sensors = read_sensor_registry(args.sensors) if args.sensors else None
    if args.config:
        endpoints = endpoints_from_config(yaml.safe_load(args.config.read_text()))
    elif sensors is not None and args.base_url:
        endpoints = endpoints_from_sensors(sensors, args.base_url)
    else:
        parser.error("give --config, or --sensors with --base-url")
    stop = stop_on_termination()
    config = PollerConfig(endpoints, args.buffer_dir, writer_name=args.writer_name, sensors=sensors)
    stats = run_poller(config, stop)
    logger.info("stopped: %d polls, %d failures", stats.polls, stats.failures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
