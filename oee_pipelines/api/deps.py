"""What every request needs: the warehouse connection pool, the lake, the settings, the connector
configuration, the Dagster client, and the caller's key (checked, rate-limited and counted).

`create_app(settings)` builds all of it once and puts it on `app.state`; handlers take it through the
dependencies below, never from the environment.
"""

from __future__ import annotations

import threading

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from psycopg import Connection
from psycopg_pool import ConnectionPool

from oee_pipelines.api.auth import ApiIdentity, KeyRefused, check_key, scope_refusal
from oee_pipelines.api.errors import ApiError
from oee_pipelines.api.rate_limits import KeyRateLimiter
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.config.connectors import ConnectorsConfig
from oee_pipelines.observability.metrics import API_KEY_REFUSALS, API_KEY_REQUESTS
from oee_pipelines.services.runs import DagsterRuns


def _configure_connection(conn: Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")


class ApiServices:
    """Shared per app. The pool opens on first use, so building the app touches no database."""

    def __init__(
        self,
        database_url: str,
        lake_root: str,
        settings: ApiSettings,
        sources: ConnectorsConfig | None = None,
    ) -> None:
        self.database_url = database_url
        self.lake_root = lake_root
        self.settings = settings
        self.sources = sources or ConnectorsConfig()
        self.rate_limiter = KeyRateLimiter(settings.rate_limit) if settings.rate_limit else None
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.database_url,
                    min_size=1,
                    max_size=self.settings.pool_max_size,
                    kwargs={"autocommit": True},
                    configure=_configure_connection,
                    timeout=30,
                    name="oee-api",
                    open=True,
                )
            return self._pool

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def get_services(request: Request) -> ApiServices:
    return request.app.state.services


def dagster_runs(request: Request) -> DagsterRuns:
    """The app's Dagster client (`app.state.dagster_runs`, built by `create_app`; tests replace it)."""
    return request.app.state.dagster_runs


_header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key (preferred)")
_query_key = APIKeyQuery(name="api_key", auto_error=False, description="API key (Power BI Web connector)")
_bearer_key = HTTPBearer(auto_error=False, description="API key as a bearer token")


def require_api_key(
    services: ApiServices = Depends(get_services),
    header_key: str | None = Security(_header_key),
    bearer: HTTPAuthorizationCredentials | None = Security(_bearer_key),
    query_key: str | None = Security(_query_key),
) -> ApiIdentity:
    """The caller's organization; every query is then scoped to it.

    401 for a missing, unknown, revoked or expired key; 429 with `Retry-After` once the key has used
    its `OEE_API_RATE_LIMIT`. Every outcome is counted in the metrics.
    """
    key = header_key or (bearer.credentials if bearer else None) or query_key
    if not key:
        API_KEY_REFUSALS.labels(reason="missing", key_id="").inc()
        raise ApiError(
            401,
            "X-API-Key",
            "missing API key: send the X-API-Key header, Authorization: Bearer, or ?api_key=",
        )
    with services.pool.connection() as conn:
        checked = check_key(conn, key)
    if isinstance(checked, KeyRefused):
        key_id = "" if checked.key_id is None else str(checked.key_id)
        API_KEY_REFUSALS.labels(reason=checked.reason, key_id=key_id).inc()
        raise ApiError(401, "X-API-Key", checked.message)
    _enforce_rate_limit(services.rate_limiter, checked)
    API_KEY_REQUESTS.labels(
        key_id=str(checked.key_id), organization=checked.org_id, scope=checked.scope
    ).inc()
    return checked


def _enforce_rate_limit(limiter: KeyRateLimiter | None, identity: ApiIdentity) -> None:
    if limiter is None:
        return
    exceeded = limiter.hit(identity.key_id)
    if exceeded is None:
        return
    API_KEY_REFUSALS.labels(reason="rate_limited", key_id=str(identity.key_id)).inc()
    retry_after = limiter.retry_after_seconds(exceeded, identity.key_id)
    raise ApiError(
        429,
        "X-API-Key",
        f"this API key has used its rate limit ({exceeded}); retry in {retry_after} s",
        headers={"Retry-After": str(retry_after)},
    )


def require_admin_key(identity: ApiIdentity = Depends(require_api_key)) -> ApiIdentity:
    """An admin-scoped key (actions: syncs, backfills, imports, the plant model); a read-scoped key
    is refused with 403 naming the scope it lacks."""
    refusal = scope_refusal(identity, "admin")
    if refusal:
        raise ApiError(403, "X-API-Key", refusal)
    return identity
