"""HTTP sensor server: the current reading of each HTTP-polled sensor, as a Starlette app for ServerThread.

`GET /sensors` lists the current readings of every sensor; `GET /sensors/{sensor_id}` answers one
reading in the seed's form `{"sensor_id", "<sensor_type>": value, "timestamp"}` (404 for an unknown
sensor). Values come from `SensorReadingGenerator`, at the time the injected clock gives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oee_pipelines.simulator.mqtt_publisher import SensorReadingGenerator
from oee_pipelines.simulator.servers.runtime import FaultInjectionMiddleware, FaultSwitches


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def http_sensor_app(
    sensors: pd.DataFrame,
    *,
    seed: int = 42,
    clock: Callable[[], datetime] = _now,
    switches: FaultSwitches | None = None,
) -> Starlette:
    generator = SensorReadingGenerator(sensors, seed=seed)
    sensor_ids = sensors["sensor_id"].astype(str).tolist()

    async def list_readings(request: Request) -> JSONResponse:
        at = clock()
        return JSONResponse([generator.current(sensor_id, at) for sensor_id in sensor_ids])

    async def one_reading(request: Request) -> JSONResponse:
        sensor_id = request.path_params["sensor_id"]
        if sensor_id not in sensor_ids:
            return JSONResponse({"error": f"no sensor {sensor_id}"}, status_code=404)
        return JSONResponse(generator.current(sensor_id, clock()))

    middleware = [Middleware(FaultInjectionMiddleware, switches=switches or FaultSwitches())]
    return Starlette(
        routes=[Route("/sensors", list_readings), Route("/sensors/{sensor_id}", one_reading)],
        middleware=middleware,
    )
