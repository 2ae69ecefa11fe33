"""The connector YAML's `iot` section, as the seed wrote it, turned into typed MQTT settings.

```yaml
iot:
  mqtt:
    enabled: true
    broker: iot-broker.local
    port: 1883
    client_id: oee-ingester-1        # stable: the broker keeps this session
    credentials: {username: ..., password: ${MQTT_PASSWORD}}
    topics:
      - pattern: 'factory/+/temperature'
        sensor_type: temperature
      - 'factory/#'                  # a plain topic filter is accepted too
  http_polling:
    enabled: true
    endpoints: [{url: ..., interval_seconds: 60, sensor_id: ENV_01, machine_id: MACHINE-001}]
```

`sensor_type` per topic is informational: the sensor registry decides what a reading is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oee_pipelines.connectors.iot.http_poller import PollEndpoint, endpoints_from_config

DEFAULT_BROKER_PORT = 1883
DEFAULT_TOPICS = ("factory/#",)
DEFAULT_CLIENT_ID = "oee-ingester"


class IotConfigError(ValueError):
    """The `iot` section is not usable; the message names the key."""


@dataclass(frozen=True)
class MqttSettings:
    broker_host: str
    broker_port: int = DEFAULT_BROKER_PORT
    topics: tuple[str, ...] = DEFAULT_TOPICS
    client_id: str = DEFAULT_CLIENT_ID
    username: str | None = None
    password: str | None = None


def mqtt_settings(iot_section: Mapping[str, Any] | None) -> MqttSettings | None:
    """The broker to subscribe to, or None when no enabled `iot.mqtt` broker is configured."""
    mqtt = (iot_section or {}).get("mqtt") or {}
    if not mqtt or not mqtt.get("enabled", True):
        return None
    if not mqtt.get("broker"):
        raise IotConfigError("iot.mqtt.broker: the broker's host name is missing")
    credentials = mqtt.get("credentials") or {}
    return MqttSettings(
        broker_host=str(mqtt["broker"]),
        broker_port=_port(mqtt.get("port", DEFAULT_BROKER_PORT)),
        topics=_topics(mqtt.get("topics")),
        client_id=str(mqtt.get("client_id") or DEFAULT_CLIENT_ID),
        username=credentials.get("username"),
        password=credentials.get("password"),
    )


def http_endpoints(iot_section: Mapping[str, Any] | None) -> tuple[PollEndpoint, ...]:
    """The `iot.http_polling.endpoints` (none when the section is missing or disabled)."""
    polling = (iot_section or {}).get("http_polling") or {}
    if not polling or not polling.get("enabled", True):
        return ()
    try:
        return endpoints_from_config({"iot": {"http_polling": polling}})
    except KeyError as missing:
        raise IotConfigError(f"iot.http_polling.endpoints: an endpoint lacks {missing}") from None


def _port(value: Any) -> int:
    if not str(value).isdigit() or not 0 < int(value) < 65536:
        raise IotConfigError(f"iot.mqtt.port: expected a TCP port, got {value!r}")
    return int(value)


def _topics(entries: Any) -> tuple[str, ...]:
    if not entries:
        return DEFAULT_TOPICS
    if not isinstance(entries, list):
        raise IotConfigError("iot.mqtt.topics: expected a list of topic filters")
    topics = [entry.get("pattern") if isinstance(entry, dict) else entry for entry in entries]
    filters = tuple(topic for topic in topics if isinstance(topic, str) and topic)
    if len(filters) != len(topics):
        raise IotConfigError("iot.mqtt.topics: every entry needs a topic filter (`pattern`)")
    return filters
