"""The MQTT settings the ingester and the live stream take, and the seed's `iot` section they come from.

```yaml
iot:
  mqtt:
    enabled: true
    broker: iot-broker.local
    port: 1883
    client_id: oee-ingester-1        # stable: the broker keeps this session (one per ingester process)
    share_group: oee-ingesters       # optional: ingesters of one group split the topics' messages
    credentials: {username: ..., password: ${MQTT_PASSWORD}}
    topics:
      - pattern: 'factory/+/temperature'
        sensor_type: temperature
      - 'factory/#'                  # a plain topic filter is accepted too
  http_polling:
    enabled: true
    endpoints: [{url: ..., interval_seconds: 60, sensor_id: ENV_01, machine_id: MACHINE-001}]
```

`sensor_type` per topic is informational: the sensor registry decides what a reading is. The
section is read and checked once by `oee_pipelines/config/connectors.py`;
`oee_pipelines/services/iot/sources.py` turns it into `MqttSettings`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BROKER_PORT = 1883
DEFAULT_TOPICS = ("factory/#",)
DEFAULT_CLIENT_ID = "oee-ingester"


@dataclass(frozen=True)
class MqttSettings:
    broker_host: str
    broker_port: int = DEFAULT_BROKER_PORT
    topics: tuple[str, ...] = DEFAULT_TOPICS
    client_id: str = DEFAULT_CLIENT_ID
    username: str | None = None
    password: str | None = None
    share_group: str | None = None  # subscribe as `$share/<group>/<topic>` (MQTT 5 shared subscription)
