"""The IoT clients' settings from the one checked configuration (`Settings.sources.iot`).

The configuration loader (`oee_pipelines/config/connectors.py`) has already read and checked the
seed's `iot` section; this turns it into what the ingester, the poller and the live stream take.
"""

from __future__ import annotations

from oee_pipelines.config.connectors import IotConfig
from oee_pipelines.connectors.iot.config import DEFAULT_CLIENT_ID, DEFAULT_TOPICS, MqttSettings
from oee_pipelines.connectors.iot.http_poller import DEFAULT_INTERVAL_SECONDS, PollEndpoint


def mqtt_settings(iot: IotConfig | None) -> MqttSettings | None:
    """The broker to subscribe to, or None when no enabled `iot.mqtt` broker is configured."""
    if iot is None or iot.mqtt is None:
        return None
    mqtt = iot.mqtt
    return MqttSettings(
        broker_host=mqtt.broker,
        broker_port=mqtt.port,
        topics=mqtt.topics or DEFAULT_TOPICS,
        client_id=mqtt.client_id or DEFAULT_CLIENT_ID,
        username=mqtt.username,
        password=mqtt.password,
        share_group=mqtt.share_group,
    )


def poll_endpoints(iot: IotConfig | None) -> tuple[PollEndpoint, ...]:
    """The enabled `iot.http_polling.endpoints` (none when the section is missing or switched off)."""
    if iot is None:
        return ()
    return tuple(
        PollEndpoint(
            url=endpoint.url,
            interval_seconds=endpoint.interval_seconds or DEFAULT_INTERVAL_SECONDS,
            sensor_id=endpoint.sensor_id,
            machine_id=endpoint.machine_id,
        )
        for endpoint in iot.http_endpoints
    )
