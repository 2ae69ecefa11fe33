"""Connecting to the warehouse: the configured PostgreSQL, or the embedded one."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg

from oee_pipelines.settings import ConfigError, Settings
from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres


def psycopg_url(url: str) -> str:
    """A libpq URL (what psycopg.connect takes) from any of the accepted forms."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1).replace("postgres://", "postgresql://", 1)


def connection_failure(exc: psycopg.OperationalError) -> str:
    """The cause in a psycopg connection error, e.g. `Connection refused`, without libpq's hint lines."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return lines[0].rsplit(" failed: ", 1)[-1]


def resolve_database_url(settings: Settings, *, start_embedded: bool = True) -> str:
    """The warehouse URL: OEE_DATABASE_URL checked for reachability, or the embedded server."""
    if settings.database_url:
        url = psycopg_url(settings.database_url)
        try:
            with psycopg.connect(url, connect_timeout=5):
                pass
        except psycopg.OperationalError as exc:
            parts = urlsplit(url)
            where = f"{parts.hostname or 'local socket'}:{parts.port or 5432}/{parts.path.lstrip('/')}"
            reason = connection_failure(exc)
            raise ConfigError(f"OEE_DATABASE_URL: cannot connect to {where}: {reason}") from None
        return url
    embedded = EmbeddedPostgres(settings.embedded_pgdata)
    if not start_embedded and not embedded.is_running():
        raise ConfigError(
            f"OEE_DATABASE_URL is unset and the embedded PostgreSQL "
            f"in {settings.embedded_pgdata} is not running"
        )
    return embedded.start()
