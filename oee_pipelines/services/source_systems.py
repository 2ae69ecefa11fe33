"""The source systems a Dagster run can call, and the run tag the run queue limits them by.

This module is the one place that names them:

- every job whose assets call a source system tags its runs `oee/source_system=<system>`
  (`source_system_tags`), so runs launched from the job, its schedules and sensors, a job backfill
  or the API are queued under that system's limit;
- every asset that calls a source system declares the system as its concurrency pool (`pool=MES`,
  ...), which holds its steps whichever way the run started (also a backfill of the asset graph,
  whose runs carry no job tags);
- a historian backfill the API narrows to one historian is tagged `pi` or `aveva` instead of
  `historian` (`services/historian/run_tags.py`);
- `dagster.yaml`, `deploy/dagster.production.yaml` and `deploy/values.yaml` limit each value to
  `RUN_LIMITS` (`oee_pipelines_tests/defs/test_source_system_limits.py` checks all three).
"""

from __future__ import annotations

from collections.abc import Iterable

SOURCE_SYSTEM_TAG = "oee/source_system"

MES = "mes"  # MES REST / SOAP: schedules, work orders, recipes, status push-back, operator shifts
ERP = "erp"  # SAP OData / Oracle EBS: materials, labour costs
HISTORIAN = "historian"  # every configured historian (PI and / or AVEVA) in one run
PI = "pi"  # a historian backfill narrowed to PI
AVEVA = "aveva"  # a historian backfill narrowed to AVEVA

# The asset pools that are source systems. A run's tag holds one value, so a run reaching several
# (the 15-minute MES + ERP sync) takes the first; its other steps are still held by their own pool.
SOURCE_SYSTEM_POOLS = (MES, ERP, HISTORIAN)
# Runs of one value in progress at once (the queue's `tag_concurrency_limits`).
RUN_LIMITS = {MES: 1, ERP: 1, HISTORIAN: 2, PI: 2, AVEVA: 2}


def source_system_tags(system: str) -> dict[str, str]:
    """The run tags of a job whose assets call `system`."""
    if system not in RUN_LIMITS:
        raise ValueError(f"unknown source system {system!r}; expected one of {', '.join(RUN_LIMITS)}")
    return {SOURCE_SYSTEM_TAG: system}


def run_source_system(pools: Iterable[str | None]) -> str | None:
    """The tag value of a run whose steps use `pools`: its first source-system pool, else None."""
    present = set(pools)
    return next((pool for pool in SOURCE_SYSTEM_POOLS if pool in present), None)
