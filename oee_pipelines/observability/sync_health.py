"""The health of the scheduled MES/ERP syncs as Prometheus gauges.

A sync runs in a Dagster run worker, which lives for one run and is never scraped; its outcome is
recorded in the warehouse's audit trail (`mes_schedule_sync`, one row per entity per sync). The API
reads the latest row per organization, system and entity when `/metrics` is scraped
(`services/sync_health.py`) and renders these gauges beside its own metrics:

- `oee_source_sync_failing{org_id, system, entity}`: 1 when the latest sync FAILED, else 0;
- `oee_source_sync_last_success_timestamp_seconds{org_id, system, entity}`: the latest SUCCESS or
  PARTIAL sync (absent when there was none).

The alert `OeeSourceSyncFailing` (deploy/prometheus-alerts.yml) fires on the first. Labels are
bounded: organizations, configured system types and the fixed set of synced entities.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, generate_latest

FAILED = "FAILED"
LABELS = ("org_id", "system", "entity")


@dataclass(frozen=True)
class SyncState:
    """The latest audited sync of one entity from one system, for one organization."""

    org_id: str
    system: str
    entity: str
    last_status: str
    last_success: datetime | None


def sync_health_exposition(states: Iterable[SyncState]) -> bytes:
    """The Prometheus text of the gauges for `states` (appended to a process's own exposition)."""
    registry = CollectorRegistry(auto_describe=True)
    failing = Gauge(
        "oee_source_sync_failing",
        "1 when the latest audited sync of this entity failed (mes_schedule_sync), else 0.",
        LABELS,
        registry=registry,
    )
    last_success = Gauge(
        "oee_source_sync_last_success_timestamp_seconds",
        "Unix time of the latest SUCCESS or PARTIAL sync of this entity (mes_schedule_sync).",
        LABELS,
        registry=registry,
    )
    for state in states:
        labels = (state.org_id, state.system, state.entity)
        failing.labels(*labels).set(1 if state.last_status == FAILED else 0)
        if state.last_success is not None:
            last_success.labels(*labels).set(state.last_success.timestamp())
    return generate_latest(registry)
