"""The IoT buffer as a Dagster resource: where the ingesters' buffer is, and which hours are ready.

The writers (the MQTT ingester, the HTTP poller) run as their own processes and fill `buffer_dir`;
landing it is the IoT service's (`oee_pipelines/services/iot/`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg

from oee_pipelines.connectors.iot.landing import HourStatus
from oee_pipelines.services.iot import buffer_status


class IoTBufferResource(dg.ConfigurableResource):
    """`buffer_dir`: the writers' buffer; `org_id`: the organization of quarantined unknown sensors."""

    buffer_dir: str = "data/iot_buffer"
    org_id: str = "demo"

    @property
    def path(self) -> Path:
        return Path(self.buffer_dir)

    def status(self, now: datetime | None = None) -> HourStatus:
        return buffer_status(self.path, now)
