"""A fault in the middle of a partition keeps the last good data, for every source; the retry completes it.

For each source in turn — MES schedules (REST), ERP labour costs (SAP OData), PI Web API, AVEVA
historian, the MQTT landing, the file inbox — the project's own asset materializes one partition
(against the simulator's real servers on loopback, a scratch PostgreSQL and a scratch lake), then the
same partition again with a fault injected after part of it was read: a connection dropped
mid-response, HTTP 500, a truncated (malformed) JSON answer, or a disk-full write of the lake
(ENOSPC raised at the Parquet write of one folder or file, after half of it was written). While the
fault lasts and after it, the partition must hold exactly its earlier rows (count and checksum) and
`oee api`, a real process over the same warehouse and lake, must serve them without a 5xx (polled
throughout the failing run). The fault cleared, a re-run must complete the partition: the content
of a fault-free run, nothing lost, nothing duplicated.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import orjson
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from oee_pipelines.api.auth import create_api_key
from oee_pipelines.connectors.iot.buffer import BufferWriter
from oee_pipelines.connectors.iot.intake import MessageIntake
from oee_pipelines.defs.erp.assets import labor_costs
from oee_pipelines.defs.historian.assets import historian_points
from oee_pipelines.defs.imports.assets import imported_files
from oee_pipelines.defs.iot.assets import iot_sensor_batches
from oee_pipelines.defs.mes.assets import mes_sync
from oee_pipelines.resources.imports import ImportInboxResource
from oee_pipelines.resources.iot import IoTBufferResource
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.simulator.plant import SimulatedPlant, load_plant_description
from oee_pipelines.simulator.servers.aveva_historian import AvevaHistorianSimulator
from oee_pipelines.simulator.servers.mes_rest import MesRestSimulator
from oee_pipelines.simulator.servers.pi_web_api import PiWebApiSimulator
from oee_pipelines.simulator.servers.point_source import PointSource
from oee_pipelines.simulator.servers.runtime import ConnectionDroppedError, FaultSwitches, ServerThread
from oee_pipelines.simulator.servers.sap_odata import SapODataSimulator
from oee_pipelines.simulator.servers.source_data import SourceData
from oee_pipelines.storage.migrations import migrate
from oee_pipelines_tests.support.faults import disk_full_at
from oee_pipelines_tests.support.mes_sources import mes_rest_resource, sap_resource
from reliability.api_process import ApiProcess, running_api
from reliability.common import (
    QUIET_LOGGERS,
    ScenarioResult,
    load_plant_reference,
    scratch_folder,
    scratch_postgres,
)
from reliability.scenarios.source_down import historian_resource

DAY = date(2025, 1, 13)
ORG = "demo"
PI_MACHINE, AVEVA_MACHINE, MQTT_MACHINE, INBOX_MACHINE = (
    "MACHINE-001",
    "MACHINE-009",
    "MACHINE-003",
    "MACHINE-004",
)
MQTT_SENSOR, MQTT_TOPIC = "TEMP-M003", "factory/MACHINE-003/temperature"
MQTT_HOURS = [datetime(2025, 1, 13, hour, tzinfo=UTC) for hour in (10, 11, 12)]
TELEMETRY_EXPORT = "/api/export/telemetry/csv/ of the machine's day"
EVERY_TIME = 1_000_000  # a fault count that outlasts every retry of the failing run
# Columns that say when or by which run a row was written: a re-run changes them, not the content.
VOLATILE_COLUMNS = {
    "created_at",
    "updated_at",
    "synced_at",
    "last_synced_at",
    "ingested_at",
    "ingest_run_id",
    "sync_run_id",
    "import_job_id",
}


@dataclass(frozen=True)
class Snapshot:
    """One partition's stored content: its rows' keys and a checksum of every non-volatile column."""

    keys: Counter[tuple[Any, ...]]
    checksum: str

    @property
    def rows(self) -> int:
        return sum(self.keys.values())

    def lost_against(self, expected: Snapshot) -> int:
        """Rows of `expected` (a fault-free run) missing here."""
        return sum((expected.keys - self.keys).values())

    def extra_against(self, expected: Snapshot) -> int:
        """Rows here beyond those of `expected`: duplicates (the same key twice) or strays."""
        return sum((self.keys - expected.keys).values())


def snapshot(frame: pd.DataFrame, key_columns: Sequence[str]) -> Snapshot:
    content = frame.drop(columns=[c for c in frame.columns if c in VOLATILE_COLUMNS])
    content = content.reindex(sorted(content.columns), axis=1).astype(str)
    content = content.sort_values(list(content.columns)).reset_index(drop=True)
    checksum = hashlib.sha256(content.to_csv(index=False).encode()).hexdigest()[:16]
    keys = Counter(tuple(row) for row in frame[list(key_columns)].astype(str).itertuples(index=False))
    return Snapshot(keys, checksum)


@dataclass
class ApiPoll:
    """`oee api` read over and over while a fault lasts: answers by status, rows seen."""

    read: Callable[[], tuple[int, int]]
    statuses: Counter[int] = field(default_factory=Counter)
    rows_seen: set[int] = field(default_factory=set)
    transport_errors: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)

    def once(self) -> None:
        try:
            status, rows = self.read()
        except httpx.TransportError as error:
            self.transport_errors[f"{type(error).__name__}: {error}"[:120]] += 1
            return
        self.statuses[status] += 1
        if status == 200:
            self.rows_seen.add(rows)

    @contextmanager
    def throughout(self) -> Iterator[None]:
        def loop() -> None:
            while not self._stop.wait(0.1):
                self.once()

        thread = threading.Thread(target=loop, daemon=True)
        self.once()
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=30)
            self.once()  # and once more after the failed run

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


@dataclass(frozen=True)
class RunOutcome:
    success: bool
    attempts: int  # step attempts (the asset's retry policy)


def outcome_of(result: dg.ExecuteInProcessResult, accepted: bool = True) -> RunOutcome:
    retries = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    return RunOutcome(result.success and accepted, len(retries) + 1)


@dataclass
class Case:
    """One source: how to run its partition, fault it, read it back from storage and from the API."""

    source: str
    fault: str
    run: Callable[[], RunOutcome]
    inject: Callable[[], None]
    clear: Callable[[], None]
    stored: Callable[[], Snapshot]
    api_read: Callable[[], tuple[int, int]]
    api_path: str
    expected_after: Callable[[Snapshot], Snapshot] = lambda before: before
    prepare_retry: Callable[[], str] = lambda: "re-run of the partition"


@dataclass
class Figures:
    source: str
    fault: str
    failed_attempts: int = 0
    retry_attempts: int = 0
    seconds: float = 0.0
    rows_before: int = 0
    rows_during: int = 0
    rows_after: int = 0
    rows_lost: int = 0
    duplicates: int = 0
    api: str = ""
    api_server_errors: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.fault}; step attempts {self.failed_attempts} failed + {self.retry_attempts} retry; "
            f"rows before {self.rows_before:,}, during {self.rows_during:,}, after retry "
            f"{self.rows_after:,}; lost {self.rows_lost}, duplicates {self.duplicates}; API during the "
            f"fault: {self.api}; {self.seconds:.1f} s"
        )


def exercise(case: Case) -> Figures:
    started = time.monotonic()
    figures = Figures(case.source, case.fault)
    good = case.run()
    if not good.success:
        figures.problems.append("the fault-free run failed")
        return figures
    before = case.stored()
    api_status, api_rows_before = case.api_read()
    if api_status != 200:
        figures.problems.append(f"the API answered {api_status} before the fault")
    case.inject()
    poll = ApiPoll(case.api_read)
    with poll.throughout():
        failed = case.run()
        during = case.stored()
    figures.failed_attempts = failed.attempts
    case.clear()
    retry_how = case.prepare_retry()
    retried = case.run()
    after = case.stored()
    expected = case.expected_after(before)
    figures.rows_before, figures.rows_during, figures.rows_after = before.rows, during.rows, after.rows
    figures.rows_lost = after.lost_against(expected)
    figures.duplicates = after.extra_against(expected)
    figures.retry_attempts = retried.attempts
    figures.api_server_errors = poll.server_errors
    answers = ", ".join(f"{count} x {status}" for status, count in sorted(poll.statuses.items()))
    figures.api = (
        f"{case.api_path}: {answers or 'no answer'}, rows served {sorted(poll.rows_seen)} "
        f"(before: {api_rows_before}), 5xx {poll.server_errors}"
    )
    if failed.success:
        figures.problems.append("the faulted run succeeded: the fault did not hit the partition")
    if during != before:
        figures.problems.append(
            f"the partition changed during the fault: {before.rows} rows {before.checksum} -> "
            f"{during.rows} rows {during.checksum}"
        )
    if poll.server_errors or poll.transport_errors or set(poll.statuses) != {200}:
        figures.problems.append(
            f"the API failed during the fault: {answers}; no answer: {dict(poll.transport_errors)}"
        )
    if poll.rows_seen != {api_rows_before}:
        figures.problems.append(f"the API served {sorted(poll.rows_seen)} rows, not {api_rows_before}")
    if not retried.success:
        figures.problems.append(f"the retry ({retry_how}) failed")
    content_differs = expected.checksum and after.checksum != expected.checksum
    if content_differs or after.keys != expected.keys:
        figures.problems.append(
            f"after the retry: {after.rows} rows {after.checksum}, a fault-free run: {expected.rows} rows "
            f"{expected.checksum}"
        )
    figures.seconds = time.monotonic() - started
    return figures


class DiskFullSwitch:
    """`disk_full_at(path_fragment)` switched on by a case's fault and off when it is cleared."""

    def __init__(self, path_fragment: str) -> None:
        self.path_fragment = path_fragment
        self._active: AbstractContextManager[list[str]] | None = None

    def on(self) -> None:
        self._active = disk_full_at(self.path_fragment)
        self._active.__enter__()

    def off(self) -> None:
        if self._active is not None:
            self._active.__exit__(None, None, None)
            self._active = None


class Bench:
    """What every case shares: the warehouse, the lake, the API process and its key, the Dagster instance."""

    def __init__(
        self, database_url: str, lake_dir: Path, api: ApiProcess, instance: dg.DagsterInstance
    ) -> None:
        self.database_url = database_url
        self.lake_dir = lake_dir
        self.api = api
        self.instance = instance
        self.warehouse = WarehouseResource(database_url=database_url)
        self.lake = LakeResource(root=str(lake_dir))
        with psycopg.connect(database_url, autocommit=True) as conn:
            self.api_key = create_api_key(conn, ORG, "reliability last-good-data")[1]
        self.client = httpx.Client(base_url=api.base_url, headers={"X-API-Key": self.api_key}, timeout=30)

    def materialize(self, assets: list[Any], resources: dict[str, Any], **options: Any) -> RunOutcome:
        return outcome_of(self.run(assets, resources, **options))

    def run(self, assets: list[Any], resources: dict[str, Any], **options: Any) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets,
            resources={"warehouse": self.warehouse, "lake": self.lake, **resources},
            instance=self.instance,
            raise_on_error=False,
            **options,
        )

    def table(self, query: str, params: tuple[Any, ...] = ()) -> pd.DataFrame:
        with psycopg.connect(self.database_url) as conn, conn.cursor() as cursor:
            cursor.execute(query, params)
            columns = [column.name for column in cursor.description or []]
            return pd.DataFrame(cursor.fetchall(), columns=columns)

    def lake_rows(self, folder_glob: str, machine_id: str) -> pd.DataFrame:
        files = sorted(self.lake_dir.glob(folder_glob))
        if not files:
            return pd.DataFrame(columns=["machine_id", "signal", "ts"])
        frame = pa.concat_tables(
            [pq.read_table(path) for path in files], promote_options="default"
        ).to_pandas()
        return frame[frame["machine_id"] == machine_id]

    def telemetry_rows(self, machine_id: str, first: date, last: date) -> tuple[int, int]:
        """The API's raw telemetry export of a machine's days: (status, data rows)."""
        response = self.client.get(
            "/api/export/telemetry/csv/",
            params={"machine_id": machine_id, "start_date": first.isoformat(), "end_date": last.isoformat()},
        )
        if response.status_code != 200:
            return response.status_code, 0
        return 200, max(0, len(list(csv.reader(io.StringIO(response.text)))) - 1)


def window_config(op: str) -> dg.RunConfig:
    window = {"start": DAY.isoformat(), "end": (DAY + timedelta(days=1)).isoformat()}
    return dg.RunConfig(ops={op: {"config": window}}, loggers=QUIET_LOGGERS)


def http_fault(switches: FaultSwitches, kind: str, requests_per_run: Callable[[], int]) -> Callable[[], None]:
    """Switch on `kind` (fail_next, malformed_next, drop_next) after half of a good run's requests."""

    def inject() -> None:
        switches.reset()
        switches.pass_first = max(1, requests_per_run() // 2)
        setattr(switches, kind, EVERY_TIME)

    return inject


class RequestCounter:
    """How many requests a fault-free run of a case sends (the fault lets half of them through)."""

    def __init__(self, switches: FaultSwitches) -> None:
        self.switches = switches
        self.per_run = 0

    def counted(self, run: Callable[[], RunOutcome]) -> Callable[[], RunOutcome]:
        def wrapped() -> RunOutcome:
            seen = self.switches.requests_seen
            result = run()
            if not self.per_run:
                self.per_run = self.switches.requests_seen - seen
            return result

        return wrapped


def mes_case(bench: Bench, mes_url: str, switches: FaultSwitches) -> Case:
    counter = RequestCounter(switches)
    config = window_config("mes_sync")
    run = counter.counted(
        lambda: bench.materialize([mes_sync], {"mes": mes_rest_resource(mes_url)}, run_config=config)
    )

    def stored() -> pd.DataFrame:
        return bench.table(
            """SELECT s.*, w.wo_number, w.status AS wo_status, w.planned_quantity AS wo_quantity
               FROM production_schedules s LEFT JOIN work_orders w ON w.id = s.work_order_id
               WHERE s.planned_start >= %s AND s.planned_start < %s""",
            (DAY, DAY + timedelta(days=1)),
        )

    return Case(
        "MES schedules (REST)",
        "connection dropped mid-response after half the requests",
        run,
        http_fault(switches, "drop_next", lambda: counter.per_run),
        switches.reset,
        lambda: snapshot(stored(), ["org_id", "external_id"]),
        lambda: mes_api_read(bench),
        "/health only (no endpoint serves MES schedules)",
    )


def mes_api_read(bench: Bench) -> tuple[int, int]:
    # No API endpoint serves the MES schedule or work orders: only that the API answers is checked.
    response = bench.client.get("/health")
    return response.status_code, 1 if response.status_code == 200 else 0


def erp_case(bench: Bench, sap_url: str, switches: FaultSwitches, lines: list[str]) -> Case:
    counter = RequestCounter(switches)
    config = window_config("labor_costs")
    run = counter.counted(
        lambda: bench.materialize([labor_costs], {"erp": sap_resource(sap_url)}, run_config=config)
    )

    def api_read() -> tuple[int, int]:
        rows = 0
        for line in lines:
            response = bench.client.get("/api/erp/labor/", params={"line_id": line, "date": DAY.isoformat()})
            if response.status_code != 200:
                return response.status_code, 0
            rows += len(response.json()["entries"])
        return 200, rows

    return Case(
        "ERP labour costs (SAP OData)",
        "HTTP 500 after half the requests",
        run,
        http_fault(switches, "fail_next", lambda: counter.per_run),
        switches.reset,
        lambda: snapshot(
            bench.table("SELECT * FROM labor_costs WHERE work_date = %s", (DAY,)),
            ["org_id", "line_id", "cost_center", "work_date"],
        ),
        api_read,
        "/api/erp/labor/ per line",
    )


def historian_cases(bench: Bench, pi_url: str, aveva_url: str, pi_switches: FaultSwitches) -> list[Case]:
    counter = RequestCounter(pi_switches)
    resources = {"historian": historian_resource(pi_url, aveva_url)}
    config = dg.RunConfig(loggers=QUIET_LOGGERS)
    run = counter.counted(
        lambda: bench.materialize(
            [historian_points], resources, partition_key=DAY.isoformat(), run_config=config
        )
    )
    full_disk = DiskFullSwitch("source=aveva")

    def stored(system: str, machine: str) -> Snapshot:
        rows = bench.lake_rows(f"telemetry/source={system}/date={DAY.isoformat()}/*.parquet", machine)
        return snapshot(rows, ["machine_id", "signal", "source_ref", "ts"])

    return [
        Case(
            "PI Web API",
            "malformed JSON (truncated answers) after half the requests",
            run,
            http_fault(pi_switches, "malformed_next", lambda: counter.per_run),
            pi_switches.reset,
            lambda: stored("pi", PI_MACHINE),
            lambda: bench.telemetry_rows(PI_MACHINE, DAY, DAY),
            TELEMETRY_EXPORT,
        ),
        Case(
            "AVEVA historian",
            "disk full writing the day's AVEVA folder (after the points were read)",
            run,
            full_disk.on,
            full_disk.off,
            lambda: stored("aveva", AVEVA_MACHINE),
            lambda: bench.telemetry_rows(AVEVA_MACHINE, DAY, DAY),
            TELEMETRY_EXPORT,
        ),
    ]


def mqtt_case(bench: Bench, buffer_dir: Path) -> Case:
    write_mqtt_buffer(buffer_dir)
    resources = {"iot": IoTBufferResource(buffer_dir=str(buffer_dir), org_id=ORG)}
    first, last = MQTT_HOURS[0], MQTT_HOURS[-1]
    tags = {
        "dagster/asset_partition_range_start": first.strftime("%Y-%m-%d-%H:%M"),
        "dagster/asset_partition_range_end": last.strftime("%Y-%m-%d-%H:%M"),
    }
    config = dg.RunConfig(loggers=QUIET_LOGGERS)
    full_disk = DiskFullSwitch(f"hour={MQTT_HOURS[1]:%H}.parquet")

    return Case(
        "MQTT / IoT landing",
        f"disk full writing hour {MQTT_HOURS[1]:%H}:00 of {len(MQTT_HOURS)} (after the buffer was read)",
        lambda: bench.materialize([iot_sensor_batches], resources, tags=tags, run_config=config),
        full_disk.on,
        full_disk.off,
        lambda: snapshot(
            bench.lake_rows(f"telemetry/source=mqtt/date={DAY.isoformat()}/*.parquet", MQTT_MACHINE),
            ["machine_id", "signal", "ts"],
        ),
        lambda: bench.telemetry_rows(MQTT_MACHINE, DAY, DAY),
        TELEMETRY_EXPORT,
    )


def write_mqtt_buffer(buffer_dir: Path) -> None:
    """A reading a minute from one sensor over `MQTT_HOURS`, buffered as the MQTT ingester does."""
    writer = BufferWriter(buffer_dir, "reliability")
    intake = MessageIntake(writer)
    for hour in MQTT_HOURS:
        for minute in range(60):
            moment = hour + timedelta(minutes=minute)
            payload = orjson.dumps(
                {"sensor_id": MQTT_SENSOR, "temperature": 60 + minute / 10, "timestamp": moment.isoformat()}
            )
            intake.accept("mqtt", MQTT_TOPIC, payload, int(moment.timestamp() * 1e9))
    writer.sync()
    writer.close()


def sensor_log(spans: list[tuple[datetime, int]]) -> str:
    """A sensor-log CSV of the inbox machine: a temperature a minute for each (start, minutes) span."""
    lines = ["timestamp,machine_id,sensor_type,value,unit,quality"]
    for first, minutes in spans:
        for minute in range(minutes):
            moment = first + timedelta(minutes=minute)
            lines.append(
                f"{moment:%Y-%m-%dT%H:%M:%SZ},{INBOX_MACHINE},temperature,{70 + minute / 10:.1f},degC,100"
            )
    return "\n".join(lines) + "\n"


def inbox_case(bench: Bench, inbox_dir: Path) -> Case:
    """File A lands the day's morning; file B (the afternoon and the next morning) hits a full disk on
    its second day; B dropped again lands. The machine's days must end as A + B, each row once."""
    inbox_dir.mkdir(parents=True, exist_ok=True)
    resources = {"import_inbox": ImportInboxResource(root=str(inbox_dir), org_id=ORG)}
    file_a = sensor_log([(datetime(2025, 1, 13, 8, tzinfo=UTC), 120)])
    file_b = sensor_log(
        [(datetime(2025, 1, 13, 16, tzinfo=UTC), 60), (datetime(2025, 1, 14, 8, tzinfo=UTC), 60)]
    )
    pending = {"file": "a.csv", "text": file_a}
    full_disk = DiskFullSwitch(f"date={DAY + timedelta(days=1)}")

    def run() -> RunOutcome:
        path = inbox_dir / pending["file"]
        if not path.exists():
            path.write_text(pending["text"], encoding="utf-8")
        config = {"path": str(path), "import_type": "sensor_log"}
        result = bench.run(
            [imported_files],
            resources,
            run_config=dg.RunConfig(ops={"imported_files": {"config": config}}, loggers=QUIET_LOGGERS),
        )
        # A file the importer refused is a successful run whose `file_accepted` check failed.
        checks = result.get_asset_check_evaluations() if result.success else []
        return outcome_of(result, accepted=all(check.passed for check in checks))

    def inject() -> None:
        pending.update(file="b.csv", text=file_b)
        full_disk.on()

    def prepare_retry() -> str:
        if (inbox_dir / "b.csv").exists():
            return "the file stayed in the inbox: run again"
        rejected = sorted((inbox_dir / "rejected").glob("*-b.csv"))
        if rejected:
            shutil.copy(rejected[-1], inbox_dir / "b.csv")
        return "the rejected file dropped into the inbox again"

    def stored() -> Snapshot:
        rows = bench.lake_rows("telemetry/source=import/date=*/*.parquet", INBOX_MACHINE)
        return snapshot(rows, ["machine_id", "signal", "ts"])

    def expected_after(before: Snapshot) -> Snapshot:
        # A fault-free import of B adds its rows (same machine and signal as A's) to A's, each once.
        signal = next(iter(before.keys))[1]
        stamps = pd.read_csv(io.StringIO(file_b))["timestamp"]
        added = Counter((INBOX_MACHINE, signal, str(ts)) for ts in pd.to_datetime(stamps, utc=True))
        return Snapshot(before.keys + added, checksum="")

    return Case(
        "File inbox import",
        "disk full writing the file's second day (after its first day was written)",
        run,
        inject,
        full_disk.off,
        stored,
        lambda: bench.telemetry_rows(INBOX_MACHINE, DAY, DAY + timedelta(days=1)),
        TELEMETRY_EXPORT,
        expected_after,
        prepare_retry,
    )


def run(short: bool) -> ScenarioResult:
    """One day and one machine (or line set) per source: the same size with and without `--short`."""
    plant = SimulatedPlant(load_plant_description(), seed=42)
    source_data = SourceData.from_plant(plant, DAY - timedelta(days=1), DAY + timedelta(days=2))
    mes_switches, sap_switches, pi_switches = FaultSwitches(), FaultSwitches(), FaultSwitches()
    mes = MesRestSimulator(source_data, switches=mes_switches, max_page_size=2)
    sap = SapODataSimulator(source_data, switches=sap_switches, max_page_size=2)
    pi = PiWebApiSimulator(PointSource.from_plant(plant, "pi"), switches=pi_switches)
    aveva = AvevaHistorianSimulator(PointSource.from_plant(plant, "aveva"))
    figures: list[Figures] = []
    with (
        quiet_dropped_connections(),
        scratch_folder("lake") as lake_dir,
        scratch_folder("files") as files_dir,
        scratch_postgres() as scratch,
        ServerThread(mes.app) as mes_server,
        ServerThread(sap.app) as sap_server,
        ServerThread(pi.app) as pi_server,
        ServerThread(aveva.app) as aveva_server,
        dg.instance_for_test() as instance,
    ):
        migrate(scratch.url)
        warehouse = WarehouseResource(database_url=scratch.url)
        mapping_key = ["org_id", "historian_system", "historian_tag"]
        load_plant_reference(
            warehouse,
            plant,
            [
                ("historian_tag_mappings", historian_mappings(plant), mapping_key),
                ("iot_sensors", mqtt_sensor(), ["sensor_id"]),
            ],
        )
        with running_api(scratch.url, {"OEE_LAKE_ROOT": str(lake_dir)}) as api:
            bench = Bench(scratch.url, lake_dir, api, instance)
            lines = sorted(plant.lines()["id"])
            cases = [
                mes_case(bench, mes_server.base_url, mes_switches),
                erp_case(bench, sap_server.base_url, sap_switches, lines),
                *historian_cases(bench, pi_server.base_url, aveva_server.base_url, pi_switches),
                mqtt_case(bench, files_dir / "iot_buffer"),
                inbox_case(bench, files_dir / "inbox"),
            ]
            for case in cases:
                figures.append(exercise(case))
            bench.client.close()
    result = ScenarioResult("Failures keep the last good data (every source)")
    for item in figures:
        result.figures[item.source] = item.line()
        result.lost += [f"{item.source}: {problem}" for problem in item.problems]
    result.figures["rows lost (all sources)"] = sum(item.rows_lost for item in figures)
    result.figures["duplicates (all sources)"] = sum(item.duplicates for item in figures)
    result.figures["API 5xx during the faults"] = sum(item.api_server_errors for item in figures)
    result.figures["sources"] = len(figures)
    return result


@contextmanager
def quiet_dropped_connections() -> Iterator[None]:
    """uvicorn logs a traceback for every connection the MES fault drops on purpose; not for these."""

    def keep(record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDroppedError))

    uvicorn_errors = logging.getLogger("uvicorn.error")
    uvicorn_errors.addFilter(keep)
    try:
        yield
    finally:
        uvicorn_errors.removeFilter(keep)


def historian_mappings(plant: SimulatedPlant) -> pd.DataFrame:
    mappings = plant.historian_tag_mappings()
    pi = (mappings["historian_system"] == "pi") & (mappings["machine_id"] == PI_MACHINE)
    aveva = (mappings["historian_system"] == "aveva") & (mappings["machine_id"] == AVEVA_MACHINE)
    return mappings[pi | aveva]


def mqtt_sensor() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "sensor_id": MQTT_SENSOR,
                "org_id": ORG,
                "sensor_type": "temperature",
                "machine_id": MQTT_MACHINE,
                "protocol": "MQTT",
                "mqtt_topic": MQTT_TOPIC,
                "unit": "degC",
                "min_expected_value": 0.0,
                "max_expected_value": 200.0,
                "is_active": True,
            }
        ]
    )
