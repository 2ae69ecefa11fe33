"""One historian backfill run: for each UTC day, fetch every mapped tag, map it, replace that day's folder.

Dagster-free: the `historian_points` asset drives it (plan, run_day per day, close) and turns its
results into materializations.

A day is the unit of success: a day whose fetch or write fails is recorded with its reason and the
run goes on with the next day, so one bad day never costs the others. Each system-day replaces
`telemetry/source=<system>/date=<day>/` atomically, so running the same range twice leaves exactly the
same points. A run narrowed to some tags (the API) keeps the other tags' rows of the day folder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.connectors.errors import SourceAuthError, SourceDataError, SourceSystemError
from oee_pipelines.connectors.historian.base import HistorianClient, HistorianNotConfiguredError
from oee_pipelines.connectors.historian.points import read_ahead
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.domain.tag_mapping import TagMapper, UnmappedState
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.services.historian.day_parts import StreamedDay, compact, telemetry_folder
from oee_pipelines.services.historian.jobs import BackfillJobs, Connect
from oee_pipelines.services.historian.run_tags import BackfillRequest
from oee_pipelines.services.historian.state_alerts import replace_unmapped_state_alerts
from oee_pipelines.storage.lake import Lake

PROGRESS_EVERY_POINTS = 1_000_000
# Pages fetched and parsed ahead while a Parquet part is written (each at most tags x page limit points).
READ_AHEAD_PAGES = 8
# Retrying cannot fix these: wrong credentials, an answer we cannot read, a missing configuration.
PERMANENT_ERRORS = (SourceAuthError, SourceDataError, HistorianNotConfiguredError, ValueError)

MAPPINGS_QUERY = """
SELECT m.historian_system, m.historian_tag, m.org_id, l.site_id, mc.line_id, m.machine_id, m.signal_type,
       m.unit, m.scale_factor, m.offset_value, m.counter_mode, m.counter_rollover, m.is_active, m.state_set
FROM historian_tag_mappings m
JOIN machines mc ON mc.id = m.machine_id
JOIN production_lines l ON l.id = mc.line_id
WHERE m.is_active
  AND (%(org_id)s::text IS NULL OR m.org_id = %(org_id)s)
  AND (%(machine_id)s::text IS NULL OR m.machine_id = %(machine_id)s)
ORDER BY m.historian_system, m.historian_tag
"""
STATE_NAMES_QUERY = """
SELECT org_id, state_set, state_key, running, reason_code FROM state_name_mappings
WHERE %(org_id)s::text IS NULL OR org_id = %(org_id)s
"""


class Historians(Protocol):
    """The configured historians (the Dagster `HistorianResource` is one)."""

    @property
    def counter_lookback_minutes(self) -> int: ...

    def configured_systems(self) -> list[str]: ...

    def reader(self, system: str) -> AbstractContextManager[HistorianClient]: ...


class NothingToBackfillError(Exception):
    """No historian is configured, or no tag of a configured one is mapped."""


@dataclass(frozen=True)
class SystemPlan:
    """What one run fetches from one historian, and the audit row it reports into."""

    system: str
    tags: list[str]
    mappings: pd.DataFrame
    job_id: int

    @property
    def has_counters(self) -> bool:
        return bool((self.mappings["counter_mode"] == "cumulative").any())


@dataclass
class DayResult:
    day: date
    points_fetched: dict[str, int] = field(default_factory=dict)
    points_imported: dict[str, int] = field(default_factory=dict)
    unmapped: dict[str, dict[str, int]] = field(default_factory=dict)  # system -> tag -> points
    rows_written: int = 0
    preview: pa.Table = field(default_factory=TELEMETRY_SCHEMA.empty_table)
    first_ts: object = None
    last_ts: object = None
    error: str | None = None
    permanent: bool = False
    # system -> values per stream per request in use (PI maxCount after any server limit)
    page_limits: dict[str, int] = field(default_factory=dict)
    unmapped_states: dict[str, list[UnmappedState]] = field(default_factory=dict)


class HistorianBackfill:
    """One run over some days; `close` ends it (audit rows, clients). Dagster-free: the asset drives it."""

    def __init__(
        self,
        historians: Historians,
        connect: Connect,
        lake: Lake,
        request: BackfillRequest,
        run_id: str,
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.historian = historians
        self.connect = connect
        self.jobs = BackfillJobs(connect)
        self.lake = lake
        self.request = request
        self.run_id = run_id
        self.log = log
        self.points_so_far = 0
        self._started = time.monotonic()
        self._clients: dict[str, HistorianClient] = {}
        self._open_clients = ExitStack()
        self._limits_logged: set[str] = set()

    def plan(self, days: list[date]) -> list[SystemPlan]:
        """One plan per historian with tags to fetch; each opens (or takes over) its audit row."""
        systems = [self.request.system] if self.request.system else self.historian.configured_systems()
        if not systems:
            raise NothingToBackfillError(
                "no historian configured: add a `historian` section to the OEE_CONFIG_FILE YAML "
                "(docs/historian.md)"
            )
        mappings = self._query_frame(
            MAPPINGS_QUERY, {"org_id": self.request.org_id, "machine_id": self.request.machine_id}
        )
        self._state_names = self._query_frame(STATE_NAMES_QUERY, {"org_id": self.request.org_id})
        start, end = day_bounds(days[0])[0], day_bounds(days[-1])[1]
        plans = []
        for system in systems:
            system_mappings = mappings[mappings["historian_system"] == system].reset_index(drop=True)
            tags = list(self.request.tags) or system_mappings["historian_tag"].tolist()
            if not tags:
                self.log.info(f"{system}: no active tag mappings, nothing to fetch")
                continue
            org_id = self.request.org_id or min(system_mappings["org_id"], default=None)
            if org_id is None:
                raise NothingToBackfillError(f"{system}: none of the tags {', '.join(tags)} is mapped")
            job_id = self.jobs.open_run(
                job_id=self.request.job_id,
                org_id=org_id,
                system=system,
                tags=tags,
                start=start,
                end=end,
                run_id=self.run_id,
            )
            plans.append(SystemPlan(system, tags, system_mappings, job_id))
        if not plans:
            raise NothingToBackfillError(f"no active historian tag mappings for {', '.join(systems)}")
        return plans

    def run_day(self, day: date, plans: list[SystemPlan]) -> DayResult:
        """Fetch, map and write one day from every planned historian; a failure is returned, not raised."""
        result = DayResult(day)
        written = []
        for plan in plans:
            try:
                written.append(self._system_day(plan, day, result))
            except Exception as exc:
                reason = str(exc) if isinstance(exc, SourceSystemError) else f"{plan.system}: {exc}"
                result.error = f"{day.isoformat()}: {reason}"
                result.permanent = isinstance(exc, PERMANENT_ERRORS)
                self.log.error(f"historian_points {result.error}")
                return result
        for plan in plans:
            unmapped = sorted(result.unmapped.get(plan.system, {}))
            self.jobs.add_progress(
                plan.job_id, result.points_fetched[plan.system], result.points_imported[plan.system], unmapped
            )
            self._report_unmapped_states(plan, day, result.unmapped_states.get(plan.system, []))
        with_rows = [streamed for streamed in written if streamed.rows]
        result.rows_written = sum(streamed.rows for streamed in written)
        if with_rows:
            result.preview = with_rows[0].preview
            result.first_ts = min(streamed.first_ts for streamed in with_rows if streamed.first_ts)
            result.last_ts = max(streamed.last_ts for streamed in with_rows if streamed.last_ts)
        return result

    def _system_day(self, plan: SystemPlan, day: date, result: DayResult) -> StreamedDay:
        """Fetch, map and write one system-day page by page: at most one Parquet part in memory."""
        day_start, day_end = day_bounds(day)
        lookback = (
            timedelta(minutes=self.historian.counter_lookback_minutes) if plan.has_counters else timedelta()
        )
        mapper = TagMapper(
            plan.mappings,
            plan.system,
            ingest_run_id=self.run_id,
            emit_from=day_start,
            state_names=self._state_names,
        )
        folder = telemetry_folder(plan.system, day)
        # A run narrowed to some tags keeps the other tags' rows: read before the folder is replaced.
        kept = self._kept_rows(folder, plan.tags) if self.request.is_narrowed else None
        counts = {"fetched": 0, "imported": 0}
        started = time.monotonic()
        client = self._client(plan.system)

        def pages() -> Iterator[pa.Table]:
            next_report = PROGRESS_EVERY_POINTS
            read = client.read_points(plan.tags, day_start - lookback, day_end)
            for page in read_ahead(read, READ_AHEAD_PAGES):
                counts["fetched"] += page.num_rows
                telemetry = mapper.map_compact(page).telemetry
                counts["imported"] += telemetry.num_rows
                yield telemetry
                if counts["fetched"] >= next_report:
                    self.log.info(f"{day} {plan.system}: {counts['fetched']:,} points fetched so far")
                    next_report += PROGRESS_EVERY_POINTS
            if kept is not None:
                yield compact(kept)

        streamed = StreamedDay(pages())
        self.lake.replace_folder(folder, streamed)
        self._note_page_limit(plan.system, client, result)
        fetched, imported = counts["fetched"], counts["imported"]
        self.points_so_far += fetched
        result.points_fetched[plan.system] = fetched
        result.points_imported[plan.system] = imported
        result.unmapped[plan.system] = {item.tag: item.point_count for item in mapper.unmapped()}
        result.unmapped_states[plan.system] = mapper.unmapped_states()
        self._log_progress(day, plan.system, fetched, imported, time.monotonic() - started)
        return streamed

    def _kept_rows(self, folder: str, tags: list[str]) -> pa.Table:
        """The rows of a day folder that a run narrowed to `tags` (of its organization) leaves alone."""
        existing = self.lake.read_folder(folder, TELEMETRY_SCHEMA)
        replaced = pc.is_in(existing["source_ref"], pa.array(tags, pa.string()))
        if self.request.org_id:
            replaced = pc.and_(replaced, pc.equal(existing["org_id"], self.request.org_id))
        return existing.filter(pc.invert(pc.fill_null(replaced, False)))

    def _log_progress(self, day: date, system: str, fetched: int, imported: int, seconds: float) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        self.log.info(
            f"{day} {system}: {fetched:,} points fetched, {imported:,} imported in {seconds:.1f} s; "
            f"run so far {self.points_so_far:,} points at {self.points_so_far / elapsed:,.0f} points/s"
        )

    def close(self, plans: list[SystemPlan], error: str | None) -> None:
        """Close the audit rows (COMPLETED, or FAILED with `error`) and the historian clients."""
        try:
            for plan in plans:
                self.jobs.close(plan.job_id, error)
        finally:
            self._open_clients.close()
            self._clients.clear()

    def _client(self, system: str) -> HistorianClient:
        """One client per system for the whole run, so a server limit it learnt holds for every day."""
        if system not in self._clients:
            self._clients[system] = self._open_clients.enter_context(self.historian.reader(system))
        return self._clients[system]

    def _note_page_limit(self, system: str, client: HistorianClient, result: DayResult) -> None:
        """Record the page limit in use; log once per run why it is below the configured one."""
        if client.page_limit is not None:
            result.page_limits[system] = client.page_limit
        reason = client.page_limit_reason
        if reason and system not in self._limits_logged:
            self._limits_logged.add(system)
            self.log.warning(f"historian_points {system}: {reason}")

    def _report_unmapped_states(self, plan: SystemPlan, day: date, states: list[UnmappedState]) -> None:
        """Replace the day's unmapped-state alerts of the tags this run fetched (one per tag and day)."""
        with_sets = plan.mappings[plan.mappings["state_set"].notna()]["historian_tag"]
        tags = sorted(set(plan.tags) & set(with_sets))
        if not tags and not states:
            return
        replace_unmapped_state_alerts(self.connect, plan.system, day, tags, states)
        for state in states:
            self.log.warning(
                f"{day} {plan.system}: tag {state.tag} reported state {state.name!r} {state.point_count} "
                f"times, which state set {state.state_set} does not map (read as not running)"
            )

    def _query_frame(self, query: str, params: dict[str, Any]) -> pd.DataFrame:
        with self.connect() as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            columns = [column.name for column in cursor.description or []]
            return pd.DataFrame(cursor.fetchall(), columns=columns)


def failed_days_message(failures: list[DayResult], day_count: int) -> str:
    """`day_count`: the days of the whole range, including those an earlier attempt materialized."""
    reasons = "\n".join(f"- {failure.error}" for failure in failures)
    return (
        f"historian_points: {len(failures)} of {day_count} days failed (the others are materialized; "
        f"re-run the failed days):\n{reasons}"
    )
