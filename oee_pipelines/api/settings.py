"""Settings of the API sidecar that the project-wide `Settings` does not carry (yet)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from oee_pipelines.api.rate_limits import parse_rate_limit
from oee_pipelines.settings import ConfigError

RUN_LAUNCH_MODES = ("queue", "graphql")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, str(default))
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"{name}: must be a whole number of at least 1, got {text!r}")
    return int(text)


@dataclass(frozen=True)
class ApiSettings:
    max_range_days: int = 366
    pool_max_size: int = 10
    # Temporary XLSX workbooks are written here before they are streamed (None: the system temp dir).
    scratch_dir: str | None = None
    # Tableau's WDC 2.0 library, downloaded once by an operator (`OEE_TABLEAU_WDC_JS`; docs/bi/tableau.md).
    tableau_library: str | None = None
    # Requests per API key and process (`OEE_API_RATE_LIMIT`, e.g. "600/minute"); None: no limit.
    rate_limit: str | None = None
    # How sync / download / push-back endpoints start runs (`OEE_API_RUN_LAUNCH`): "queue" commits an
    # `api_run_requests` row that a Dagster sensor launches; "graphql" calls the webserver per request.
    run_launch: str = "queue"

    def __post_init__(self) -> None:
        if self.run_launch not in RUN_LAUNCH_MODES:
            raise ConfigError(
                f"OEE_API_RUN_LAUNCH: must be one of {', '.join(RUN_LAUNCH_MODES)}, got {self.run_launch!r}"
            )
        if self.rate_limit is None:
            return
        try:
            parse_rate_limit(self.rate_limit)
        except ValueError:
            raise ConfigError(
                f"OEE_API_RATE_LIMIT: {self.rate_limit!r} is not a rate limit such as '600/minute' "
                "(or several: '600/minute;20/second'); leave it empty for no limit"
            ) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if environ is None else environ
        return cls(
            max_range_days=_positive_int(env, "OEE_API_MAX_RANGE_DAYS", cls.max_range_days),
            pool_max_size=_positive_int(env, "OEE_API_POOL_SIZE", cls.pool_max_size),
            scratch_dir=env.get("OEE_API_SCRATCH_DIR") or None,
            tableau_library=env.get("OEE_TABLEAU_WDC_JS") or None,
            rate_limit=env.get("OEE_API_RATE_LIMIT", "").strip() or None,
            run_launch=env.get("OEE_API_RUN_LAUNCH", "").strip() or cls.run_launch,
        )
