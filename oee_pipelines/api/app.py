"""The FastAPI sidecar: `create_app(settings)` wires the routers, error handlers and shared services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from oee_pipelines.api import bi, docs, erp, exports, historian, imports, iot_stream, mes, plant, telemetry
from oee_pipelines.api.dashboard import router as dashboard_router
from oee_pipelines.api.deps import ApiServices, get_services
from oee_pipelines.api.errors import COMMON_ERROR_RESPONSES, install_error_handlers
from oee_pipelines.api.lineage import router as lineage_router
from oee_pipelines.api.odata.router import router as odata_router
from oee_pipelines.api.params import refuse_control_characters
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.observability.exposition import MetricsMiddleware, metrics_response
from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines.services.sync_health import source_sync_exposition
from oee_pipelines.settings import Settings
from oee_pipelines.storage.warehouse import resolve_database_url

DESCRIPTION = """
OEE data for BI tools (Power BI, Tableau, Excel) and data engineers.

**Authentication**: every endpoint except `/health` needs an API key (`oee api-key create --org <org>
--name <name>`), sent as the `X-API-Key` header, `Authorization: Bearer <key>`, or the `api_key` query
parameter (Power BI's Web connector). A key reads only its own organization's rows.

**Time ranges** are UTC and half-open: a date as the upper bound includes that whole day; a datetime
as the upper bound is excluded. See `docs/api.md`.
"""


def create_app(
    settings: Settings, *, database_url: str | None = None, api_settings: ApiSettings | None = None
) -> FastAPI:
    """The API app. `database_url` defaults to the configured warehouse (starting the embedded one)."""
    services = ApiServices(
        database_url=database_url or resolve_database_url(settings),
        lake_root=settings.lake_root,
        settings=api_settings or ApiSettings.from_env(),
        sources=settings.sources,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    # docs_url/redoc_url off: `api/docs.py` serves both pages from the package (no CDN).
    app = FastAPI(
        title="OEE pipelines API",
        version="1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_control_characters)],
    )
    app.state.services = services
    app.state.dagster_runs = DagsterRuns(graphql_url=settings.dagster_graphql_url)
    app.state.import_upload_settings = imports.UploadSettings.from_env()
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware)
    app.include_router(exports.router)
    app.include_router(exports.seed_router)
    app.include_router(telemetry.router)
    app.include_router(mes.router)
    app.include_router(erp.router)
    app.include_router(historian.router)
    app.include_router(odata_router)
    app.include_router(bi.router)
    app.include_router(dashboard_router)
    app.include_router(docs.router)
    app.include_router(imports.router)
    app.include_router(imports.page_router)
    app.include_router(plant.router)
    app.include_router(lineage_router)
    app.include_router(iot_stream.build_router(settings))

    @app.get(
        "/metrics", tags=["Operations"], summary="Prometheus metrics of this process", include_in_schema=False
    )
    async def metrics(services: ApiServices = Depends(get_services)) -> Response:
        # MES/ERP syncs run in Dagster run workers, never scraped: their audit trail is read here.
        return metrics_response(await run_in_threadpool(source_sync_exposition, services.pool))

    @app.get(
        "/health",
        tags=["Operations"],
        summary="Liveness and warehouse reachability",
        responses={503: COMMON_ERROR_RESPONSES[503]},
    )
    async def health(services: ApiServices = Depends(get_services)) -> JSONResponse:
        def probe() -> None:
            with services.pool.connection() as conn:
                conn.execute("SELECT 1")

        await run_in_threadpool(probe)
        return JSONResponse({"status": "ok", "warehouse": "ok"})

    return app
