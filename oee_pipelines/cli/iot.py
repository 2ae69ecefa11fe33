"""`oee iot ingest|poll|simulate`: the IoT writers as long-running processes, and IoT in `up` and `demo`.

`ingest` subscribes to the MQTT broker of the connector YAML's `iot.mqtt` section (flags override it)
into the durable buffer (`OEE_IOT_BUFFER_DIR`); `poll` polls `iot.http_polling.endpoints` (or the
registry's HTTP sensors under `--base-url`); `simulate` publishes the demo plant's MQTT sensors live.
All three stop cleanly on SIGTERM / Ctrl-C. The Dagster sensor `iot_buffer_sensor` lands the buffer.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from oee_pipelines.cli.progress import note, report
from oee_pipelines.connectors.iot.buffer import closed_segments, open_segments, read_records
from oee_pipelines.connectors.iot.config import MqttSettings
from oee_pipelines.connectors.iot.http_poller import PollerConfig, endpoints_from_sensors, run_poller
from oee_pipelines.connectors.iot.ingester import IngesterConfig, run_ingester
from oee_pipelines.connectors.iot.intake import read_sensor_registry
from oee_pipelines.connectors.iot.mosquitto import MOSQUITTO, MosquittoBroker
from oee_pipelines.connectors.iot.termination import stop_on_termination
from oee_pipelines.domain.progress import Progress
from oee_pipelines.services.iot.sources import mqtt_settings, poll_endpoints
from oee_pipelines.settings import ConfigError, Settings
from oee_pipelines.simulator.mqtt_publisher import (
    MqttPublisher,
    SensorReadingGenerator,
    from_plant,
    messages,
    sensor_topics,
)
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.runtime import free_port

LOCAL_HOST = "127.0.0.1"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
LOCAL_TOPICS = ["factory/#"]
DEMO_BATCH_READINGS = 500
DEMO_PUBLISH_CHUNK = 50  # MQTT messages published between two progress reports
DEMO_WAIT_SECONDS = 300.0
READY_WAIT_SECONDS = 60.0
if TYPE_CHECKING:  # `oee iot ingest|poll|simulate` never import Dagster; the demo's landing does (`_land`)
    import dagster as dg

# The Dagster names the demo landing uses (defined in `defs/iot/` and `defs/resources.py`, looked up by name).
IOT_LANDING_JOB, IOT_RESOURCE = "iot_landing_job", "iot"


def register(subparsers: argparse._SubParsersAction) -> None:
    iot = subparsers.add_parser("iot", help="IoT sensors: MQTT ingester, HTTP poller, simulated sensors")
    commands = iot.add_subparsers(dest="iot_command", required=True)

    ingest = commands.add_parser("ingest", help="subscribe to the MQTT broker into the durable buffer")
    _broker_flags(ingest)
    ingest.add_argument("--topic", action="append", help="topic filter (repeat); default: iot.mqtt.topics")
    ingest.add_argument("--client-id", help="stable id, so the broker keeps the session (iot.mqtt.client_id)")
    ingest.add_argument(
        "--share-group",
        help="MQTT 5 shared subscription group (iot.mqtt.share_group): ingesters of one group, each with its "
        "own --client-id, split the topics' messages",
    )
    ingest.add_argument("--username")
    ingest.add_argument("--password")
    ingest.add_argument("--buffer-dir", type=Path, help="default: OEE_IOT_BUFFER_DIR")
    ingest.add_argument("--sensors", type=Path, help="iot_sensors CSV/Parquet: quarantine unknown sensors")
    ingest.add_argument("--ready-file", type=Path, help="created once every subscription is granted")
    ingest.set_defaults(handler=run_ingest)

    poll = commands.add_parser("poll", help="poll HTTP sensor endpoints into the durable buffer")
    poll.add_argument("--sensors", type=Path, help="iot_sensors CSV/Parquet (with --base-url)")
    poll.add_argument("--base-url", help="prefix of the registry's http_endpoint paths")
    poll.add_argument("--buffer-dir", type=Path, help="default: OEE_IOT_BUFFER_DIR")
    poll.set_defaults(handler=run_poll)

    simulate = commands.add_parser("simulate", help="publish the demo plant's MQTT sensors live")
    _broker_flags(simulate)
    simulate.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    simulate.set_defaults(handler=run_simulate)


def _broker_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker-host", help="default: iot.mqtt.broker of OEE_CONFIG_FILE")
    parser.add_argument("--broker-port", type=int, help="default: iot.mqtt.port (1883)")


def broker_settings(settings: Settings, args: argparse.Namespace) -> MqttSettings:
    """The configured broker with the command line's overrides; ConfigError when there is none."""
    configured = mqtt_settings(settings.sources.iot)
    if configured is None and not args.broker_host:
        raise ConfigError("no MQTT broker: set iot.mqtt.broker in OEE_CONFIG_FILE, or pass --broker-host")
    broker = configured or MqttSettings(broker_host=args.broker_host)
    overrides = {
        "broker_host": args.broker_host,
        "broker_port": args.broker_port,
        "topics": tuple(getattr(args, "topic", None) or ()),
        "client_id": getattr(args, "client_id", None),
        "username": getattr(args, "username", None),
        "password": getattr(args, "password", None),
        "share_group": getattr(args, "share_group", None),
    }
    return replace(broker, **{name: value for name, value in overrides.items() if value})


def run_ingest(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    broker = broker_settings(settings, args)
    config = IngesterConfig(
        broker_host=broker.broker_host,
        broker_port=broker.broker_port,
        topics=broker.topics,
        buffer_dir=args.buffer_dir or settings.iot_buffer_dir,
        client_id=broker.client_id,
        sensors=read_sensor_registry(args.sensors) if args.sensors else None,
        username=broker.username,
        password=broker.password,
        share_group=broker.share_group,
    )
    _log_to_stderr()
    stop = stop_on_termination()
    subscribed = threading.Event()
    if args.ready_file:
        threading.Thread(target=_signal_ready, args=(subscribed, stop, args.ready_file), daemon=True).start()
    group = f" (share group {broker.share_group})" if broker.share_group else ""
    print(f"oee iot ingest: {broker.broker_host}:{broker.broker_port} {', '.join(broker.topics)}{group} -> "
          f"{config.buffer_dir}", file=sys.stderr)  # fmt: skip
    stats = run_ingester(config, stop, subscribed)
    print(f"oee iot ingest: stopped; {stats.accepted} messages buffered, {stats.quarantined} quarantined")
    return 0


def _signal_ready(subscribed: threading.Event, stop: threading.Event, ready_file: Path) -> None:
    while not stop.is_set():
        if subscribed.wait(0.1):
            ready_file.touch()
            return


def run_poll(args: argparse.Namespace) -> int:
    config = poller_config(Settings.from_env(), args)
    _log_to_stderr()
    stats = run_poller(config, stop_on_termination())
    print(f"oee iot poll: stopped; {stats.polls} polls, {stats.failures} failures")
    return 0


def poller_config(settings: Settings, args: argparse.Namespace) -> PollerConfig:
    """The registry's HTTP sensors under `--base-url`, else `iot.http_polling.endpoints`."""
    sensors = read_sensor_registry(args.sensors) if args.sensors else None
    endpoints = (
        endpoints_from_sensors(sensors, args.base_url)
        if sensors is not None and args.base_url
        else poll_endpoints(settings.sources.iot)
    )
    if not endpoints:
        raise ConfigError(
            "no HTTP sensors: set iot.http_polling.endpoints in OEE_CONFIG_FILE, "
            "or pass --sensors with --base-url"
        )
    return PollerConfig(endpoints, args.buffer_dir or settings.iot_buffer_dir, sensors=sensors)


def run_simulate(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    publish_live(settings, broker_settings(settings, args), args.interval, stop_on_termination())
    return 0


def publish_live(settings: Settings, broker: MqttSettings, interval: float, stop: threading.Event) -> int:
    """Publish a reading per MQTT sensor of the plant every `interval` seconds until `stop`; the readings."""
    sensors = _plant(settings).iot_sensors()
    sensors = sensors[sensors["protocol"] == "MQTT"]
    generator = SensorReadingGenerator(sensors, seed=settings.simulator_seed)
    topics = sensor_topics(sensors)
    step = timedelta(seconds=interval)
    published = 0
    with MqttPublisher(
        broker.broker_host, broker.broker_port, client_id="oee-simulated-sensors"
    ) as publisher:
        print(f"oee iot simulate: {len(sensors)} sensors -> {broker.broker_host}:{broker.broker_port}")
        since = datetime.now(UTC)
        while not stop.wait(interval):
            until = since + step * ((datetime.now(UTC) - since) // step)
            published += publisher.publish(
                messages(generator.readings(since, until, interval), topics)
            ).readings
            since = until
    return published


def _plant(settings: Settings) -> SimulatedPlant:
    return SimulatedPlant(load_plant_description(settings.plant_file), seed=settings.simulator_seed)


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _oee_command(*arguments: str) -> list[str]:
    return [str(Path(sys.executable).parent / "oee"), *arguments]


def mosquitto_executable() -> str | None:
    found = shutil.which("mosquitto")
    return found or (MOSQUITTO if Path(MOSQUITTO).exists() else None)


@contextmanager
def iot_services(settings: Settings) -> Iterator[dict[str, list[str]]]:
    """The IoT processes `oee up` runs beside Dagster and the API, as name -> command.

    A configured broker (`iot.mqtt`): the ingester. None configured: a local mosquitto on 127.0.0.1
    (started here, stopped by PID on exit) with the ingester and the simulated sensors publishing to
    it; `OEE_CONFIG_FILE` is pointed at a copy of the connector YAML naming that broker, so every
    process started afterwards (the API's live stream too) finds it.
    """
    if mqtt_settings(settings.sources.iot) is not None:
        yield {"iot-ingester": _oee_command("iot", "ingest")}
        return
    executable = mosquitto_executable()
    if executable is None:
        print("IoT: mosquitto is not installed (apt-get install mosquitto); running without live IoT data")
        yield {}
        return
    broker = MosquittoBroker(settings.data_dir / "mosquitto", free_port(), executable=executable).start()
    try:
        assert broker.process is not None
        variable, location = write_local_broker_config(settings, broker.port)
        os.environ[variable] = str(location)
        print(f"started mosquitto (pid {broker.process.pid}) on {LOCAL_HOST}:{broker.port}")
        yield {
            "iot-ingester": _oee_command("iot", "ingest"),
            "iot-sensors": _oee_command("iot", "simulate"),
        }
    finally:
        broker.stop()


def write_local_broker_config(settings: Settings, port: int) -> tuple[str, Path]:
    """The connector configuration as written (references kept) plus `iot.mqtt` naming the local
    broker, as (the variable to point at it, the file or folder): a copy of the `OEE_CONFIG_DIR`
    folder with its `iot_config.yml` rewritten, or one YAML file otherwise."""
    local_mqtt = {
        "broker": LOCAL_HOST,
        "port": port,
        "client_id": "oee-ingester-local",
        "topics": LOCAL_TOPICS,
    }
    folder = os.environ.get("OEE_CONFIG_DIR")
    if folder:
        copy = settings.data_dir / "local_services"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy)
        iot_file = copy / "iot_config.yml"
        iot = (yaml.safe_load(iot_file.read_text(encoding="utf-8")) or {}) if iot_file.exists() else {}
        iot.setdefault("iot", {})["mqtt"] = local_mqtt
        iot_file.write_text("# Written by `oee up`: the local MQTT broker.\n" + yaml.safe_dump(iot))
        return "OEE_CONFIG_DIR", copy
    current = os.environ.get("OEE_CONFIG_FILE")
    config: dict[str, Any] = (
        (yaml.safe_load(Path(current).read_text(encoding="utf-8")) or {}) if current else {}
    )
    config.setdefault("iot", {})["mqtt"] = local_mqtt
    path = settings.data_dir / "local_services.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `oee up`: the connector YAML plus the local MQTT broker.\n" + yaml.safe_dump(config)
    )
    return "OEE_CONFIG_FILE", path


def run_iot_demo(definitions: dg.Definitions, instance: dg.DagsterInstance, first: date, last: date) -> None:
    """The demo plant's IoT readings of [first, last] through a real broker and ingester, then landed.

    Skipped, in one line, when mosquitto is not installed.
    """
    executable = mosquitto_executable()
    if executable is None:
        print(
            "IoT: mosquitto is not installed (make demo installs it as root); the demo continues without IoT"
        )
        return
    settings = Settings.from_env()
    demo_dir = settings.data_dir / "demo_iot"
    shutil.rmtree(demo_dir, ignore_errors=True)  # the demo's own buffer: a re-run starts from nothing
    buffer_dir = demo_dir / "buffer"
    start = datetime.combine(first, clock.min, tzinfo=UTC)
    end = datetime.combine(last, clock.min, tzinfo=UTC) + timedelta(days=1)
    started = time.monotonic()
    plant = _plant(settings)
    note(f"  simulating the plant's MQTT sensors' readings, {first} .. {last}")

    def simulated_messages() -> DemoMessages:
        readings = from_plant(plant, start, end)
        topics = sensor_topics(plant.iot_sensors())
        return DemoMessages(len(readings), list(messages(readings, topics, batch_size=DEMO_BATCH_READINGS)))

    configured = mqtt_settings(settings.sources.iot)
    if configured is None:
        with MosquittoBroker(demo_dir / "broker", free_port(), executable=executable) as broker:
            overrides = ("--broker-host", LOCAL_HOST, "--broker-port", str(broker.port))
            sent = _publish_and_buffer(
                LOCAL_HOST, broker.port, overrides, simulated_messages, buffer_dir, demo_dir
            )
    elif configured.broker_host in LOOPBACK_HOSTS:
        # The configured broker (`iot.mqtt`, its topics too): the ingester reads it from the config.
        print(f"IoT: the configured broker {configured.broker_host}:{configured.broker_port}")
        host, port = configured.broker_host, configured.broker_port
        sent = _publish_and_buffer(host, port, (), simulated_messages, buffer_dir, demo_dir)
    else:
        print(
            f"IoT: the configured broker {configured.broker_host} is not on this machine; the demo publishes "
            "its simulated sensors only to a local broker, so it continues without IoT"
        )
        return
    print(f"published {sent.readings:,} IoT readings ({len(sent.batches)} MQTT messages) through mosquitto "
          f"and the ingester in {time.monotonic() - started:5.1f} s")  # fmt: skip
    _land(definitions, instance, settings, buffer_dir, start, end)


@dataclass(frozen=True)
class DemoMessages:
    readings: int
    batches: list[Any]  # the MQTT messages, DEMO_BATCH_READINGS readings each


def _publish_and_buffer(
    host: str,
    port: int,
    broker_flags: tuple[str, ...],
    simulated_messages: Callable[[], DemoMessages],
    buffer_dir: Path,
    demo_dir: Path,
) -> DemoMessages:
    """Publish the simulated sensors' messages to the broker and wait until the ingester buffered them.

    The ingester (an `oee` process, seconds to import) starts first and boots while this process
    simulates the readings.
    """
    ready_file = demo_dir / "ingester.ready"
    ingester = _start_ingester(broker_flags, buffer_dir, ready_file)
    try:
        simulated = simulated_messages()
        batches = simulated.batches
        _wait_until_subscribed(ingester, ready_file)
        with MqttPublisher(host, port, client_id="oee-demo-sensors") as publisher:
            messages_sent = readings_sent = 0
            for chunk_start in range(0, len(batches), DEMO_PUBLISH_CHUNK):
                sent = publisher.publish(batches[chunk_start : chunk_start + DEMO_PUBLISH_CHUNK])
                messages_sent += sent.messages
                readings_sent += sent.readings
                report(
                    Progress("IoT published", messages_sent, len(batches), "MQTT messages",
                             counts={"readings": readings_sent})
                )  # fmt: skip
            publisher.wait_until_delivered(DEMO_WAIT_SECONDS)
        _wait_until_buffered(buffer_dir, len(batches))
    finally:
        _stop(ingester)
    return simulated


def _start_ingester(
    broker_flags: tuple[str, ...], buffer_dir: Path, ready_file: Path
) -> subprocess.Popen[bytes]:
    ready_file.unlink(missing_ok=True)
    command = _oee_command(
        "iot", "ingest", *broker_flags,
        "--buffer-dir", str(buffer_dir), "--client-id", "oee-demo-ingester", "--ready-file", str(ready_file),
    )  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_until_subscribed(ingester: subprocess.Popen[bytes], ready_file: Path) -> None:
    deadline = time.monotonic() + READY_WAIT_SECONDS
    while not ready_file.exists():
        if ingester.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("oee demo: the IoT ingester did not subscribe to the demo broker")
        time.sleep(0.05)


def _wait_until_buffered(buffer_dir: Path, message_count: int) -> None:
    deadline = time.monotonic() + DEMO_WAIT_SECONDS
    while (buffered := _buffered_messages(buffer_dir)) < message_count:
        report(Progress("IoT buffered by the ingester", buffered, message_count, "MQTT messages"))
        if time.monotonic() > deadline:
            raise SystemExit(f"oee demo: the IoT ingester buffered fewer than {message_count} messages")
        time.sleep(0.2)
    report(Progress("IoT buffered by the ingester", buffered, message_count, "MQTT messages"))


def _buffered_messages(buffer_dir: Path) -> int:
    return sum(len(read_records(path)) for path in [*closed_segments(buffer_dir), *open_segments(buffer_dir)])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _land(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    buffer_dir: Path,
    start: datetime,
    end: datetime,
) -> None:
    import dagster as dg

    from oee_pipelines.cli.dagster_home import QUIET_LOGS, bound_resource
    from oee_pipelines.cli.run_progress import execute_with_progress

    job = definitions.resolve_job_def(IOT_LANDING_JOB)
    assert isinstance(job.partitions_def, dg.TimeWindowPartitionsDefinition)
    hour_key = job.partitions_def.fmt
    # The job's own buffer resource, pointed at the demo's buffer (the CLI never imports defs/ or resources/).
    bound = bound_resource(definitions, IOT_RESOURCE)
    demo_buffer = type(bound)(buffer_dir=str(buffer_dir), org_id=settings.org_id)
    started = time.monotonic()
    result = execute_with_progress(
        job,
        instance,
        run_config=QUIET_LOGS,
        resources={IOT_RESOURCE: demo_buffer},
        tags={
            "dagster/asset_partition_range_start": start.strftime(hour_key),
            "dagster/asset_partition_range_end": (end - timedelta(hours=1)).strftime(hour_key),
        },
    )
    if not result.success:
        raise SystemExit(f"oee demo: {IOT_LANDING_JOB} failed (run {result.run_id}); see the Dagster UI")
    print(f"ran {IOT_LANDING_JOB:<32} in {time.monotonic() - started:5.1f} s  (run {result.run_id[:8]})")
