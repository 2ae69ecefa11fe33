"""The plant's historians (PI Web API, AVEVA Historian REST) as one Dagster resource.

Configured by the `historian` section of the connector YAML (`OEE_CONFIG_FILE`), one sub-section per
system; a credential written as `${NAME}` is bound as `dg.EnvVar("NAME")` so the Dagster UI shows the
variable's name, never the secret:

    historian:
      pi:    {base_url: https://pi/piwebapi, data_server: PISRV01, credentials: {username: .., password: ..}}
      aveva: {base_url: https://aveva:32569, credentials: {bearer_token: ${AVEVA_TOKEN}}}
      retry_attempts: 5

With no section the resource still loads; asking it for a system names `OEE_CONFIG_FILE`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import dagster as dg
import pyarrow as pa

from oee_pipelines.connectors.historian.aveva import AvevaHistorianClient
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import HistorianCredentials
from oee_pipelines.connectors.http import RetryPolicy

HISTORIAN_SYSTEMS = ("pi", "aveva")
CREDENTIAL_NAMES = ("username", "password", "bearer_token")
_WHOLE_ENV_REFERENCE = re.compile(r"^\$\{([A-Z0-9_]+)\}$")


class HistorianNotConfiguredError(Exception):
    """The pipeline needs a historian that the connector YAML does not describe."""


class HistorianServerConfig(dg.Config):
    """One historian server. `data_server` is the PI Data Archive name (PI only)."""

    base_url: str
    data_server: str = ""
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    verify_tls: bool = True
    # Requests in flight at once: the bound a backfill puts on the historian.
    concurrency: int = 4
    # PI: values per stream per response, and tags per streamset request (their product bounds the
    # size of one response, hence memory: 10,000 x 10 is about 15 MB of JSON).
    max_count: int = 10_000
    tags_per_request: int = 10

    def credentials(self) -> HistorianCredentials:
        return HistorianCredentials(self.username, self.password, self.bearer_token)


class HistorianResource(dg.ConfigurableResource):
    """The configured historians; `read_points(system, tags, start, end)` pages through raw points."""

    pi: HistorianServerConfig | None = None
    aveva: HistorianServerConfig | None = None
    retry_attempts: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    timeout_seconds: float = 120.0
    # Cumulative counters: how far before a day to start reading, so its first increment has a baseline.
    counter_lookback_minutes: int = 60

    def configured_systems(self) -> list[str]:
        return [system for system in HISTORIAN_SYSTEMS if getattr(self, system) is not None]

    def server(self, system: str) -> HistorianServerConfig:
        if system not in HISTORIAN_SYSTEMS:
            raise ValueError(
                f"unknown historian system {system!r}; expected one of {', '.join(HISTORIAN_SYSTEMS)}"
            )
        server = getattr(self, system)
        if server is None:
            raise HistorianNotConfiguredError(
                f"no `historian.{system}` section configured: set OEE_CONFIG_FILE to a YAML file with "
                f"`historian: {{{system}: {{base_url: ..., credentials: ...}}}}` (docs/historian.md)"
            )
        return server

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.retry_attempts,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            timeout_seconds=self.timeout_seconds,
        )

    @contextmanager
    def reader(self, system: str) -> Iterator[PointReader]:
        """A connected reader for one system, closed afterwards."""
        server = self.server(system)
        if system == "pi":
            client: PiWebApiClient | AvevaHistorianClient = PiWebApiClient(
                server.base_url,
                server.data_server,
                server.credentials(),
                max_count=server.max_count,
                tags_per_request=server.tags_per_request,
                concurrency=server.concurrency,
                policy=self.retry_policy(),
                verify=server.verify_tls,
            )
        else:
            client = AvevaHistorianClient(
                server.base_url,
                server.credentials(),
                concurrency=server.concurrency,
                policy=self.retry_policy(),
                verify=server.verify_tls,
            )
        with client:
            yield PointReader(client)


class PointReader:
    """Recorded (stored) values of either historian, one raw point table per page."""

    def __init__(self, client: PiWebApiClient | AvevaHistorianClient) -> None:
        self._client = client

    def read(self, tags: Sequence[str], start: datetime, end: datetime) -> Iterator[pa.Table]:
        if isinstance(self._client, PiWebApiClient):
            return self._client.read_recorded(tags, start, end)
        return self._client.read_process_values(tags, start, end)


def historian_resource_settings(section: Mapping[str, Any], raw_section: Mapping[str, Any]) -> dict[str, Any]:
    """Resource fields from the `historian` YAML section (interpolated) and the same section as written."""
    settings: dict[str, Any] = {
        name: value for name, value in section.items() if name not in HISTORIAN_SYSTEMS
    }
    for system in HISTORIAN_SYSTEMS:
        if section.get(system):
            settings[system] = _server_settings(section[system], (raw_section or {}).get(system) or {})
    return settings


def _server_settings(server: Mapping[str, Any], raw_server: Mapping[str, Any]) -> HistorianServerConfig:
    fields = {name: value for name, value in server.items() if name != "credentials"}
    raw_credentials = raw_server.get("credentials") or {}
    for name, value in (server.get("credentials") or {}).items():
        if name not in CREDENTIAL_NAMES:
            raise ValueError(
                f"unknown historian credential {name!r}; expected one of {', '.join(CREDENTIAL_NAMES)}"
            )
        reference = _WHOLE_ENV_REFERENCE.match(str(raw_credentials.get(name, "")))
        fields[name] = dg.EnvVar(reference.group(1)) if reference else value
    return HistorianServerConfig(**fields)
