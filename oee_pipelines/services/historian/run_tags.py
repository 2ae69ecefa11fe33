"""What a historian backfill is narrowed to, carried as run tags (the API sets them; the UI sets none).

Tags travel from a Dagster backfill to its runs and to their retries, so the asset and the API agree
on them through this module alone. No tag means "everything configured / mapped".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The run queue's per-source-system tag (`pi` / `aveva` here), named once in services/source_systems.py.
from oee_pipelines.services.source_systems import SOURCE_SYSTEM_TAG

SYSTEM_TAG = "oee/historian_system"  # pi | aveva
TAGS_TAG = "oee/historian_tags"  # comma-separated historian tag names
MACHINE_TAG = "oee/machine_id"
ORG_TAG = "oee/org_id"
JOB_ID_TAG = "oee/historian_job_id"  # the historian_backfill_jobs row the API created


@dataclass(frozen=True)
class BackfillRequest:
    system: str | None = None
    tags: tuple[str, ...] = ()
    machine_id: str | None = None
    org_id: str | None = None
    job_id: int | None = None

    @property
    def is_narrowed(self) -> bool:
        """True when the run covers only some of a day's tags, so a day folder is merged, not replaced."""
        return bool(self.tags or self.machine_id or self.org_id)

    @classmethod
    def from_run_tags(cls, run_tags: Mapping[str, str]) -> BackfillRequest:
        tags = tuple(tag for tag in run_tags.get(TAGS_TAG, "").split(",") if tag)
        job_id = run_tags.get(JOB_ID_TAG)
        return cls(
            system=run_tags.get(SYSTEM_TAG) or None,
            tags=tags,
            machine_id=run_tags.get(MACHINE_TAG) or None,
            org_id=run_tags.get(ORG_TAG) or None,
            job_id=int(job_id) if job_id else None,
        )

    def run_tags(self) -> dict[str, str]:
        values = {
            SYSTEM_TAG: self.system,
            SOURCE_SYSTEM_TAG: self.system,
            TAGS_TAG: ",".join(self.tags),
            MACHINE_TAG: self.machine_id,
            ORG_TAG: self.org_id,
            JOB_ID_TAG: str(self.job_id) if self.job_id is not None else None,
        }
        return {key: value for key, value in values.items() if value}
