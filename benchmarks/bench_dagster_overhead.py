"""Dagster's own overhead at demo scale (issue 19 item 7): each demo job's wall time against the time
its steps spend in their own code, read from the Dagster event log of a real `oee demo`.

The demo runs as the user runs it (`oee demo --keep-running`, a process of its own, a fresh data
folder and Dagster home under a temp folder, the simulated plant on its fixed ports behind the ports
lock). Afterwards the bench opens the demo's Dagster instance and reads each run's events:

- run wall: the run's first event (its planned materializations, logged when the run is created)
  to RUN_SUCCESS;
- step code: each STEP_SUCCESS's `duration_ms`, Dagster's timer around the step's own work (the
  asset's body and the events it yields, e.g. its materializations);
- busy: the time covered by at least one step's code (the union of the steps' intervals, each ending
  at its STEP_SUCCESS). For an in-process run the steps run one after the other, so busy = the sum of
  the steps' code; under a parallel executor it is the critical path the run could not go below;
- overhead = run wall - busy: the time Dagster spends in the run with no step code running (run
  creation, resource set-up, step envelopes, the event writes between steps, run teardown);
  `overhead %` = overhead / run wall (the issue's target: < 15 %);
- per run: the time from the run's first event to its first step's code, plus the last step's end to
  RUN_SUCCESS; per step: the gaps between steps, over the run's steps.

Rows: per demo job its wall s, step code s and overhead %; Dagster's cost per run and per step over
the whole demo; the demo's total wall time against the 45 s target (`make demo` after install); the
start-up of the demo's `oee iot ingest` process against a CLI that imports every command group; and,
on the demo's instance after the demo, the Dagster time of a one-step in-process run as the CLI runs it
(`cli_instance`: no compute-log capture) against `DagsterInstance.get()` (capture), alternating.
`--quick` runs one demo day instead of three.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from oee_pipelines.cli.dagster_home import (
    DAGSTER_STORAGE_VARIABLE,
    QUIET_LOGS,
    cli_instance,
    ensure_dagster_database,
)
from oee_pipelines.settings import Settings
from oee_pipelines.storage.embedded_postgres import EmbeddedPostgres
from oee_pipelines.storage.warehouse import resolve_database_url
from oee_pipelines_tests.support.ports import hold_simulated_plant_ports

OEE = str(Path(sys.executable).parent / "oee")
TARGET_DEMO_SECONDS = 45.0
TARGET_OVERHEAD_PERCENT = 15.0
DEMO_TIMEOUT_SECONDS = 1800
# The variables that would point the demo at another plant, lake or inbox than its own defaults.
UNSET = ("OEE_CONFIG_FILE", "OEE_CONFIG_DIR", "OEE_LAKE_ROOT", "OEE_IMPORT_INBOX", "OEE_PLANT_FILE",
         "OEE_DATABASE_URL", DAGSTER_STORAGE_VARIABLE, "OEE_PUBLISHED_DIR", "OEE_IOT_BUFFER_DIR")  # fmt: skip
STEP_EVENTS = (dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS)


@dataclass
class RunTimings:
    """One run's times from its event log, in seconds."""

    job_name: str
    run_id: str
    wall: float
    steps: dict[str, tuple[float, float]] = field(default_factory=dict)  # step -> (code start, end)
    first_event: float = 0.0
    run_success: float = 0.0

    @property
    def step_code(self) -> float:
        return sum(end - start for start, end in self.steps.values())

    @property
    def busy(self) -> float:
        """The time covered by at least one step's code (the union of the step intervals)."""
        covered, reach = 0.0, float("-inf")
        for start, end in sorted(self.steps.values()):
            if end > reach:
                covered += end - max(start, reach)
                reach = end
        return covered

    @property
    def overhead(self) -> float:
        return self.wall - self.busy

    @property
    def per_run(self) -> float:
        """Run creation to the first step's code, plus the last step's end to RUN_SUCCESS."""
        if not self.steps:
            return self.wall
        first = min(start for start, _ in self.steps.values())
        last = max(end for _, end in self.steps.values())
        return (first - self.first_event) + (self.run_success - last)

    @property
    def between_steps(self) -> float:
        return self.overhead - self.per_run


def run_timings(instance: dg.DagsterInstance, run_id: str, job_name: str) -> RunTimings:
    """The run's wall time and each step's code interval, from its event log."""
    records = instance.get_records_for_run(run_id, limit=100_000).records
    entries = [record.event_log_entry for record in records]
    first_event = min(entry.timestamp for entry in entries)
    timings = RunTimings(job_name, run_id, wall=0.0, first_event=first_event)
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == dg.DagsterEventType.RUN_SUCCESS:
            timings.run_success = entry.timestamp
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS and entry.step_key:
            duration = event.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
            timings.steps[entry.step_key] = (entry.timestamp - duration, entry.timestamp)
    timings.wall = timings.run_success - first_event
    return timings


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def demo_environment(folder: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in UNSET}
    return env | {
        "OEE_DATA_DIR": str(folder / "data"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "OEE_PROGRESS": "plain",
        "PYTHONUNBUFFERED": "1",
    }


def run_demo(env: Mapping[str, str], days: int, output: Path, profile: Path | None = None) -> float:
    """`oee demo --days N --keep-running` as the user runs it; its wall seconds (output to a file).

    With `profile`, under `py-spy record` (collapsed stacks, subprocesses too) into that file.
    """
    command = [OEE, "demo", "--days", str(days), "--keep-running"]
    if profile is not None:
        py_spy = str(Path(sys.executable).parent / "py-spy")
        command = [py_spy, "record", "--format", "raw", "--subprocesses", "-r", "50", "-o", str(profile),
                   "--", *command]  # fmt: skip
    started = time.perf_counter()
    with output.open("w") as out:
        done = subprocess.run(
            command,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=DEMO_TIMEOUT_SECONDS,
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"oee demo -> {done.returncode}:\n{output.read_text()[-4000:]}")
    return seconds


def demo_runs(env: Mapping[str, str]) -> list[RunTimings]:
    """Every run of the demo's instance, in the order they ran, with their timings."""
    with environment(env):
        settings = Settings.from_env()
        os.environ[DAGSTER_STORAGE_VARIABLE] = ensure_dagster_database(resolve_database_url(settings))
        with dg.DagsterInstance.get() as instance:
            runs = sorted(instance.get_run_records(), key=lambda record: record.create_timestamp)
            return [run_timings(instance, r.dagster_run.run_id, r.dagster_run.job_name) for r in runs]


@dg.asset
def bench_light_step() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


LIGHT_JOB = dg.Definitions(
    assets=[bench_light_step], jobs=[dg.define_asset_job("bench_light_job", selection=[bench_light_step])]
).resolve_job_def("bench_light_job")
LIGHT_RUN_PAIRS = 10


def light_run_costs(env: Mapping[str, str]) -> tuple[float, float]:
    """Median Dagster time (run wall, its step's code taken out) of a one-step in-process run on the
    demo's instance as `DagsterInstance.get()` opens it (compute-log capture) and as the CLI opens it
    (`cli_instance`, no capture); the two alternate, so both see the same machine."""
    with environment(env):
        settings = Settings.from_env()
        os.environ[DAGSTER_STORAGE_VARIABLE] = ensure_dagster_database(resolve_database_url(settings))
        home = Path(os.environ["DAGSTER_HOME"])
        with dg.DagsterInstance.get() as captured, cli_instance(home) as cli:
            costs: dict[str, list[float]] = {"captured": [], "cli": []}
            for _ in range(LIGHT_RUN_PAIRS):
                for name, instance in (("captured", captured), ("cli", cli)):
                    result = LIGHT_JOB.execute_in_process(instance=instance, run_config=QUIET_LOGS)
                    costs[name].append(run_timings(instance, result.run_id, LIGHT_JOB.name).overhead)
    return statistics.median(costs["captured"]), statistics.median(costs["cli"])


def stop_embedded(env: Mapping[str, str]) -> None:
    EmbeddedPostgres(Settings.from_env(env).embedded_pgdata).stop()


def measure_demo(
    days: int, folder: Path, profile: Path | None = None
) -> tuple[float, list[RunTimings], tuple[float, float]]:
    """The demo's wall seconds, its runs' timings, and `light_run_costs` on its instance."""
    env = demo_environment(folder)
    with hold_simulated_plant_ports():
        try:
            seconds = run_demo(env, days, folder / "demo-output.txt", profile)
            return seconds, demo_runs(env), light_run_costs(env)
        finally:
            stop_embedded(env)


def by_job(runs: list[RunTimings]) -> dict[str, list[RunTimings]]:
    jobs: dict[str, list[RunTimings]] = defaultdict(list)
    for timings in runs:
        jobs[timings.job_name].append(timings)
    return dict(jobs)


def report(runs: list[RunTimings]) -> str:
    lines = [f"{'job':<26}{'runs':>5}{'steps':>6}{'wall s':>9}{'code s':>9}{'busy s':>9}"
             f"{'ovh s':>8}{'ovh %':>7}{'run s':>7}{'step ms':>9}"]  # fmt: skip
    for job, job_runs in by_job(runs).items():
        wall = sum(r.wall for r in job_runs)
        steps = sum(len(r.steps) for r in job_runs)
        overhead = sum(r.overhead for r in job_runs)
        between = sum(r.between_steps for r in job_runs)
        lines.append(
            f"{job:<26}{len(job_runs):>5}{steps:>6}{wall:>9.2f}{sum(r.step_code for r in job_runs):>9.2f}"
            f"{sum(r.busy for r in job_runs):>9.2f}{overhead:>8.2f}{100 * overhead / wall:>6.1f}%"
            f"{sum(r.per_run for r in job_runs) / len(job_runs):>7.2f}{1000 * between / max(steps, 1):>9.0f}"
        )
    return "\n".join(lines)


def row(name: str, value: float, unit: str, seconds: float, target: tuple[str, float] | None = None) -> dict:
    figure: dict = {"name": name, "value": value, "unit": unit, "seconds": round(seconds, 3)}
    if target is not None:
        baseline, limit = target
        figure |= {"baseline_name": baseline, "baseline_value": limit, "ratio": round(value / limit, 3)}
    return figure


def rows(demo_seconds: float, runs: list[RunTimings], days: int) -> list[dict]:
    overhead_target = ("target < 15 %", TARGET_OVERHEAD_PERCENT)
    out: list[dict] = []
    for job, job_runs in by_job(runs).items():
        wall = sum(r.wall for r in job_runs)
        code = sum(r.busy for r in job_runs)
        percent = round(100 * (wall - code) / wall, 1)
        out += [
            row(f"demo {job}: run wall", round(wall, 3), "s", wall),
            row(f"demo {job}: step code", round(code, 3), "s", code),
            row(f"demo {job}: Dagster overhead", percent, "% of wall", wall - code, overhead_target),
        ]
    steps = sum(len(r.steps) for r in runs)
    per_run = statistics.median(r.per_run for r in runs)
    per_step = sum(r.between_steps for r in runs) / max(steps, 1)
    total_wall = sum(r.wall for r in runs)
    total_overhead = sum(r.overhead for r in runs)
    total_percent = round(100 * total_overhead / total_wall, 1)
    demo = round(demo_seconds, 1)
    return [
        *out,
        row("demo: Dagster cost per run (median)", round(per_run, 3), "s", per_run),
        row("demo: Dagster cost per step (mean)", round(1000 * per_step, 1), "ms", per_step),
        row("demo: Dagster overhead, all runs", total_percent, "% of run wall", total_overhead,
            overhead_target),
        row(f"demo: oee demo total wall ({days} days, fresh data folder)", demo, "s", demo_seconds,
            ("target < 45 s", TARGET_DEMO_SECONDS)),
        row("demo: job run wall, all runs", round(total_wall, 1), "s", total_wall,
            ("oee demo total wall", demo)),
    ]  # fmt: skip


# What a multiprocess (or Celery) step process does before its step's code: import the project and
# build the definitions (ReconstructableJob.get_definition()).
STEP_PROCESS_CODE = (
    "import resource, oee_pipelines.definitions as d; d.defs().resolve_job_def('oee_daily_job'); "
    "u = resource.getrusage(resource.RUSAGE_SELF); print(u.ru_utime + u.ru_stime)"
)


def step_process_start_up() -> tuple[float, float]:
    """(wall s, CPU s) of a fresh process loading the definitions, as each step process does."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", STEP_PROCESS_CODE], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - started, float(done.stdout.split()[-1])


# `oee iot ingest` (started by the demo, which waits for it to subscribe) parses its command with its own
# command group only; every group's imports (Dagster, the API, the BI writers) are the baseline.
INGESTER_START = "from oee_pipelines.cli import main; main(['iot', 'ingest', '--help'])"
EVERY_GROUP = "from oee_pipelines.cli import build_parser; build_parser()"


def process_seconds(code: str) -> float:
    """Wall seconds of a fresh Python process running `code` (its imports, mostly)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    return time.perf_counter() - started


def run(quick: bool) -> list[dict]:
    days = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="oee-bench-dagster-") as folder:
        demo_seconds, runs, (captured, cli) = measure_demo(days, Path(folder))
    print(report(runs))
    print(f"oee demo --days {days}: {demo_seconds:.1f} s wall")
    wall, cpu = step_process_start_up()
    steps = sum(len(r.steps) for r in runs)
    in_process = sum(r.between_steps for r in runs) / max(steps, 1)
    baseline = ("in-process cost per step (s)", round(in_process, 3))
    ingester = min(process_seconds(INGESTER_START) for _ in range(2))
    every_group = min(process_seconds(EVERY_GROUP) for _ in range(2))
    cli_baseline = ("every command group imported (s)", round(every_group, 2))
    return [
        *rows(demo_seconds, runs, days),
        row(
            "one-step in-process run, Dagster time: CLI instance (no compute-log capture)",
            round(cli, 3),
            "s",
            cli,
            ("with compute-log capture (DagsterInstance.get())", round(captured, 3)),
        ),
        row("oee iot ingest start-up, wall", round(ingester, 2), "s", ingester, cli_baseline),
        row("step process start-up (multiprocess / Celery step), wall", round(wall, 2), "s", wall, baseline),
        row("step process start-up (multiprocess / Celery step), CPU", round(cpu, 2), "s", cpu, baseline),
    ]


if __name__ == "__main__":
    keep = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="oee-bench-dagster-"))
    keep.mkdir(parents=True, exist_ok=True)
    # python -m benchmarks.bench_dagster_overhead FOLDER: the demo's output (and, with PROFILE=FILE,
    # its py-spy profile) kept for reading.
    profile_file = Path(os.environ["PROFILE"]) if os.environ.get("PROFILE") else None
    total, measured, _ = measure_demo(int(os.environ.get("DEMO_DAYS", "3")), keep, profile_file)
    print(report(measured))
    print(f"oee demo: {total:.1f} s wall; output in {keep / 'demo-output.txt'}")
