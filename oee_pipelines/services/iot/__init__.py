"""The IoT landing service: the ingesters' durable buffer landed by UTC hour into the lake
(source -> map -> write, `landing.py`). The only writer of `telemetry/source=mqtt|http/` and
`iot_quarantine`. The ingesters themselves are connectors (`connectors/iot/`), run by `oee iot`."""

from oee_pipelines.services.iot.landing import (
    HourBatch,
    IotLanding,
    LandingStats,
    LandingSummary,
    SensorRegistryMissingError,
    buffer_status,
    hour_file,
    land_hour,
)

__all__ = [
    "HourBatch",
    "IotLanding",
    "LandingStats",
    "LandingSummary",
    "SensorRegistryMissingError",
    "buffer_status",
    "hour_file",
    "land_hour",
]
