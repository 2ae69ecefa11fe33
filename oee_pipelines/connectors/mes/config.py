"""Connection settings for one MES or ERP system; which implementation is used is configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from oee_pipelines.connectors.http import RetryPolicy

AuthType = Literal["oauth2", "basic", "api_key", "none"]
AUTH_TYPES = ("oauth2", "basic", "api_key", "none")


@dataclass(frozen=True)
class SourceConnectionConfig:
    """Settings shared by every MES/ERP connector (the seed's `config/mes_config.yml` shape).

    `field_mappings` maps our field name to the source's (e.g. `work_order_number: OrderNumber`);
    `credentials` holds `client_id`/`client_secret` (oauth2), `username`/`password` (basic) or
    `api_key`. `id_prefix` is put in front of source numbers to form warehouse ids.
    `service_options` holds system-specific settings (e.g. Oracle EBS's RESTHeader values).
    """

    system_type: str
    base_url: str
    auth_type: AuthType = "basic"
    credentials: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 30.0
    field_mappings: Mapping[str, str] = field(default_factory=dict)
    page_size: int = 500
    org_id: str = "demo"
    id_prefix: str = ""
    token_path: str = "/oauth/token"
    api_key_header: str = "X-API-Key"
    service_options: Mapping[str, str] = field(default_factory=dict)
    retry_attempts: int = 5
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.auth_type not in AUTH_TYPES:
            raise ValueError(f"auth_type must be one of {AUTH_TYPES}, got {self.auth_type!r}")
        if self.page_size <= 0:
            raise ValueError(f"page_size must be positive, got {self.page_size}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SourceConnectionConfig:
        """Build from a YAML/dict section; an unknown key raises ValueError naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown connector setting(s): {', '.join(unknown)}")
        return cls(**dict(values))

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.retry_attempts,
            backoff_initial_seconds=self.backoff_initial_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            timeout_seconds=self.timeout_seconds,
        )

    def credential(self, name: str) -> str:
        value = self.credentials.get(name)
        if not value:
            raise ValueError(f"{self.system_type}: auth_type {self.auth_type} needs credential {name!r}")
        return value
