"""The CLI's own in-process runs (`oee demo`'s steps) go to DAGSTER_HOME's instance without Dagster's
compute-log capture (issue 19 item 7): the runs and their events are where the UI reads them, the
instance's settings are dagster.yaml's, and a step's stdout/stderr reach the CLI's terminal, but no
capture files (nor the four mirror processes per run that write them) are made."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import dagster as dg
import pytest
import yaml

from oee_pipelines.cli.dagster_home import (
    CLI_INSTANCE_FILE,
    DAGSTER_STORAGE_VARIABLE,
    DAGSTER_YAML_TEMPLATE,
    QUIET_LOGS,
    cli_instance,
    ensure_dagster_database,
)

STDOUT_MARKER, STDERR_MARKER = "stdout-of-the-step-4f1c", "stderr-of-the-step-9b2e"


@dg.asset
def talkative() -> dg.MaterializeResult:
    print(STDOUT_MARKER, flush=True)
    print(STDERR_MARKER, file=sys.stderr, flush=True)
    return dg.MaterializeResult(metadata={"rows": 3})


TALKATIVE_JOB = dg.Definitions(
    assets=[talkative], jobs=[dg.define_asset_job("talkative_job", selection=[talkative])]
).resolve_job_def("talkative_job")


@pytest.fixture
def home(database_url: str, scratch_database_name: str, tmp_path: Path) -> Iterator[Path]:
    """DAGSTER_HOME with the project's dagster.yaml on a database of its own on the test server."""
    folder = tmp_path / "dagster_home"
    folder.mkdir()
    shutil.copyfile(DAGSTER_YAML_TEMPLATE, folder / "dagster.yaml")
    storage_url = ensure_dagster_database(database_url, scratch_database_name)
    with patch.dict(os.environ, {"DAGSTER_HOME": str(folder), DAGSTER_STORAGE_VARIABLE: storage_url}):
        yield folder


def captured_files_with(home: Path, marker: str) -> list[Path]:
    """The compute-log files under the instance's storage that hold `marker`."""
    return [
        path
        for path in (home / "storage").rglob("*")
        if path.is_file() and marker in path.read_text(encoding="utf-8", errors="replace")
    ]


def test_a_cli_run_is_stored_in_the_instance_and_prints_to_the_terminal_without_capture_files(
    home: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with cli_instance(home) as instance:
        result = TALKATIVE_JOB.execute_in_process(instance=instance, run_config=QUIET_LOGS)
    assert result.success

    terminal = capfd.readouterr()
    assert STDOUT_MARKER in terminal.out and STDERR_MARKER in terminal.err
    assert captured_files_with(home, STDOUT_MARKER) == []
    assert captured_files_with(home, STDERR_MARKER) == []

    # The UI's instance (DAGSTER_HOME's dagster.yaml) sees the run, its steps and its materialization.
    with dg.DagsterInstance.get() as ui_instance:
        run = ui_instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        events = [r.event_log_entry for r in ui_instance.get_records_for_run(result.run_id).records]
        kinds = [e.dagster_event.event_type for e in events if e.dagster_event is not None]
        assert dg.DagsterEventType.STEP_SUCCESS in kinds
        latest = ui_instance.get_latest_materialization_event(dg.AssetKey("talkative"))
        assert latest is not None and latest.run_id == result.run_id


def test_a_run_on_the_uis_instance_still_captures_its_steps_output(home: Path) -> None:
    """What the CLI leaves out: the UI's (and the daemon's) runs keep their stdout/stderr files."""
    with dg.DagsterInstance.get() as instance:
        result = TALKATIVE_JOB.execute_in_process(instance=instance, run_config=QUIET_LOGS)
    assert result.success
    assert len(captured_files_with(home, STDOUT_MARKER)) == 1
    assert len(captured_files_with(home, STDERR_MARKER)) == 1


def test_the_cli_instance_follows_the_operators_dagster_yaml(home: Path) -> None:
    config = yaml.safe_load((home / "dagster.yaml").read_text(encoding="utf-8"))
    config["concurrency"]["pools"]["default_limit"] = 5
    config["telemetry"] = {"enabled": False}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")

    with cli_instance(home) as instance, dg.DagsterInstance.get() as ui_instance:
        assert instance.get_settings("concurrency") == ui_instance.get_settings("concurrency")
        assert instance.get_settings("concurrency")["pools"]["default_limit"] == 5
        assert instance.get_settings("freshness") == {"enabled": True}
        assert type(instance.run_storage) is type(ui_instance.run_storage)
        assert type(instance.compute_log_manager).__name__ == "NoOpComputeLogManager"
        assert type(ui_instance.compute_log_manager).__name__ == "LocalComputeLogManager"
    written = yaml.safe_load((home / CLI_INSTANCE_FILE).read_text(encoding="utf-8"))
    assert written["concurrency"]["pools"]["default_limit"] == 5
