"""The plant's historians (PI Web API, AVEVA Historian REST) as one Dagster resource.

Configured by the `historian` section of the connector configuration (`OEE_CONFIG_FILE`, or
`historian_config.yml` in `OEE_CONFIG_DIR`), read by `config/connectors.py` and bound in
`defs/resources.py`; a credential written as `${NAME}` is bound as `dg.EnvVar("NAME")` so the Dagster
UI shows the variable's name, never the secret:

    historian:
      pi:    {connection: {base_url: https://pi/piwebapi, username: .., password: ..}, data_server: PISRV01}
      aveva: {connection: {base_url: https://aveva:32569, bearer_token: ${AVEVA_TOKEN}}}
      retry_attempts: 5

With no section the resource still loads; asking it for a system names `OEE_CONFIG_FILE`, and asking
for a disabled one (`enabled: false`) says it is disabled.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from oee_pipelines.connectors.historian.aveva import AvevaHistorianClient
from oee_pipelines.connectors.historian.base import HistorianClient, HistorianNotConfiguredError
from oee_pipelines.connectors.historian.pi_web_api import PiWebApiClient
from oee_pipelines.connectors.historian.points import HistorianCredentials
from oee_pipelines.connectors.http import RetryPolicy

HISTORIAN_SYSTEMS = ("pi", "aveva")


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
    """The configured historians; `reader(system)` is a connected `HistorianClient`."""

    pi: HistorianServerConfig | None = None
    aveva: HistorianServerConfig | None = None
    retry_attempts: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    timeout_seconds: float = 120.0
    # Cumulative counters: how far before a day to start reading, so its first increment has a baseline.
    counter_lookback_minutes: int = 60
    # Systems configured with `enabled: false` (or the whole `historian.enabled: false`), and the file.
    disabled_systems: list[str] = []
    config_origin: str = ""

    def configured_systems(self) -> list[str]:
        return [system for system in HISTORIAN_SYSTEMS if getattr(self, system) is not None]

    def server(self, system: str) -> HistorianServerConfig:
        if system not in HISTORIAN_SYSTEMS:
            raise ValueError(
                f"unknown historian system {system!r}; expected one of {', '.join(HISTORIAN_SYSTEMS)}"
            )
        server = getattr(self, system)
        if system in self.disabled_systems:
            raise HistorianNotConfiguredError(
                f"the `{system}` historian is disabled (`enabled: false` in "
                f"{self.config_origin or 'the connector configuration'}): set it to true to use it"
            )
        if server is None:
            raise HistorianNotConfiguredError(
                f"no `historian.{system}` section configured: set OEE_CONFIG_FILE to a YAML file with "
                f"`historian: {{{system}: {{connection: {{base_url: ..., username: ...}}}}}}`, or "
                "OEE_CONFIG_DIR to a folder with historian_config.yml (docs/historian.md)"
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
    def reader(self, system: str) -> Iterator[HistorianClient]:
        """A connected client for one system, closed afterwards."""
        server = self.server(system)
        client: HistorianClient
        if system == "pi":
            client = PiWebApiClient(
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
            yield client
