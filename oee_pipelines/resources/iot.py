"""The IoT buffer as a Dagster resource: which hours are ready, and landing hours one at a time.

The writers (the MQTT ingester, the HTTP poller) run as their own processes and fill `buffer_dir`;
this resource only reads closed segments and the landing state (`oee_pipelines/connectors/iot/landing.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa

from oee_pipelines.connectors.iot.landing import (
    HourStatus,
    LandingStats,
    hour_status,
    land_hours,
    landing_lock,
    mark_landed,
)

WriteHour = Callable[[pa.Table, pd.DataFrame, LandingStats], None]


class IoTBufferResource(dg.ConfigurableResource):
    """`buffer_dir`: the writers' buffer; `org_id`: the organization of quarantined unknown sensors."""

    buffer_dir: str = "data/iot_buffer"
    org_id: str = "demo"

    @property
    def path(self) -> Path:
        return Path(self.buffer_dir)

    def status(self, now: datetime | None = None) -> HourStatus:
        if not self.path.is_dir():
            return HourStatus(complete=[], landed=[], late=[])
        return hour_status(self.path, now)

    def land(self, hours: Sequence[datetime], sensors: pd.DataFrame, run_id: str, write: WriteHour) -> None:
        """Land each UTC hour: `write(telemetry, quarantine, stats)`, then record the segments it used.

        Each hour is read, written and recorded under the buffer's landing lock. If `write` raises, that
        hour is not recorded as landed and stays to be landed.
        """
        landings = land_hours(self.path, hours, sensors, ingest_run_id=run_id)
        for _ in hours:
            with landing_lock(self.path):
                telemetry, quarantine, stats = next(landings)
                write(telemetry, quarantine, stats)
                if stats.segments:
                    mark_landed(self.path, stats.hour_start, stats.segments)
