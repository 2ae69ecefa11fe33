"""The progress of an in-process Dagster run, read from its event log while it runs (`oee demo`).

The CLI cuts Dagster's console logs to WARNING (`QUIET_LOGS`), so the user sees the CLI's own lines.
While a job runs, a watcher thread reads the run's new events from the instance every `poll_seconds`
and shows steps done / total, the materializations so far and the latest `progress:` line an asset
logged (the historian's days, the IoT landing's hours): the same lines the Dagster UI shows at INFO.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

import dagster as dg

from oee_pipelines.cli.progress import ProgressDisplay, active_display
from oee_pipelines.domain.progress import PROGRESS_PREFIX, Progress

POLL_SECONDS = 1.0
READ_LIMIT = 1000
# The materialization metadata that counts files written (the published files' assets report it).
FILES_METADATA = "files"


class RunWatcher:
    """Follows one run's event log on a thread and reports it to a display as `Progress` of the job."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        run_id: str,
        job_name: str,
        total_steps: int,
        display: ProgressDisplay,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.instance = instance
        self.run_id = run_id
        self.job_name = job_name
        self.total_steps = total_steps
        self.display = display
        self.poll_seconds = poll_seconds
        self.steps_done = 0
        self.materializations = 0
        # Per asset: a ranged run's partitions each carry the whole run's file count, so keep the largest.
        self.files_by_asset: dict[str, int] = {}
        self.latest = ""
        self._cursor: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"progress-{job_name}", daemon=True)

    def __enter__(self) -> RunWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        try:  # the last events, so the job's last line says where it ended
            self.read_new_events()
            self.display.update(self.progress())
        except Exception:  # progress is a courtesy: the run's own result matters, not this line
            pass
        finally:
            self.display.finish(self.job_name)

    def progress(self) -> Progress:
        counts = {"materializations": self.materializations}
        if self.files_by_asset:
            counts["files written"] = sum(self.files_by_asset.values())
        return Progress(
            task=self.job_name,
            done=self.steps_done,
            total=self.total_steps,
            unit="steps",
            counts=counts,
            detail=self.latest,
        )

    def read_new_events(self) -> bool:
        """Take in the events logged since the last read; whether there were any."""
        connection = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, limit=READ_LIMIT)
        for record in connection.records:
            self._take(record.event_log_entry)
        if connection.records:
            self._cursor = connection.cursor
        return bool(connection.records)

    def _take(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None:
            if entry.user_message.startswith(PROGRESS_PREFIX):
                self.latest = entry.user_message.removeprefix(PROGRESS_PREFIX)
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            self.steps_done += 1
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            self.materializations += 1
            self._count_files(entry.asset_materialization)

    def _count_files(self, materialization: dg.AssetMaterialization | None) -> None:
        files = materialization.metadata.get(FILES_METADATA) if materialization else None
        if materialization is not None and files is not None and isinstance(files.value, int):
            asset = materialization.asset_key.to_user_string()
            self.files_by_asset[asset] = max(self.files_by_asset.get(asset, 0), files.value)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                if self.read_new_events():
                    self.display.update(self.progress())
            except Exception as exc:  # progress is a courtesy: never let it break the run
                self.display.note(f"  (progress of {self.job_name} unavailable: {type(exc).__name__})")
                return


def job_steps(job: dg.JobDefinition) -> int:
    """The steps (ops) a run of `job` executes, for steps done / total."""
    return len(job.graph.nodes)


def execute_with_progress(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    *,
    run_config: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    resources: Mapping[str, object] | None = None,
    display: ProgressDisplay | None = None,
) -> dg.ExecuteInProcessResult:
    """`job.execute_in_process` on `instance`, its progress shown on `display` (the active one)."""
    display = display or active_display()
    run_id = str(uuid.uuid4())
    if display is None:
        return job.execute_in_process(
            run_config=run_config, instance=instance, tags=tags, resources=resources, run_id=run_id
        )
    with RunWatcher(instance, run_id, job.name, job_steps(job), display):
        return job.execute_in_process(
            run_config=run_config, instance=instance, tags=tags, resources=resources, run_id=run_id
        )
