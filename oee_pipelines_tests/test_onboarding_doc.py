"""docs/onboarding.md, run: every `bash` block of the page, in order, in one shell, against a fresh
warehouse and a PI Web API server on loopback; the files the page shows are written from the page.

The page's example plant is the second plant of `test_second_plant.py` (the files must stay equal to
its scenario), so the snapshots the page's commands compute are checked against the same values
computed by hand. Two things are substituted, both named here: the PI server's URL
(`https://pi.tsubame.example/piwebapi` -> the loopback server) and the API port (8000 -> a free one).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.second_plant import (
    PLANT_MODEL,
    SCHEDULE_CSV,
    WELD_STATE_LOG_CSV,
    differences,
    expected_snapshots,
    historian_config,
    pi_server,
    snapshot_rows,
    weld_counts_csv,
)

# About twenty commands, each a fresh process that imports Dagster: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

DOC = Path(__file__).resolve().parents[1] / "docs" / "onboarding.md"
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)
BASH_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.S | re.M)
TEXT_BLOCK = re.compile(r"^```text\n(.*?)^```", re.S | re.M)
DOC_PI_URL = "https://pi.tsubame.example"
DOC_API_PORT = "8000"
VARIABLES_THE_PAGE_SETS = ("OEE_CONFIG_FILE", "OEE_CONFIG_DIR", "DAGSTER_HOME", "OEE_DAGSTER_STORAGE_URL")


def page() -> str:
    return DOC.read_text()


def page_files() -> dict[str, str]:
    return dict(FILE_BLOCK.findall(page()))


def test_the_pages_files_are_the_hand_computed_second_plant() -> None:
    files = page_files()
    assert files["plant.yaml"] == PLANT_MODEL
    assert files["schedule.csv"] == SCHEDULE_CSV
    assert files["weld_states.csv"] == WELD_STATE_LOG_CSV
    assert files["config/historian_config.yml"] == historian_config(DOC_PI_URL)
    [counts_head] = TEXT_BLOCK.findall(page())
    assert weld_counts_csv().startswith(counts_head)  # the page shows the first rows of weld_counts.csv
    commands = "\n".join(BASH_BLOCK.findall(page()))
    for command in ("oee plant apply plant.yaml", "oee plant export", "dagster asset materialize", "curl"):
        assert command in commands


def test_every_command_of_the_onboarding_page_runs_and_gives_the_hand_computed_oee(
    clean_database: str, tmp_path: Path
) -> None:
    for name, text in page_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "weld_counts.csv").write_text(weld_counts_csv())
    port = str(free_port())
    script = "\n".join(BASH_BLOCK.findall(page()))
    script = script.replace(f"--port {DOC_API_PORT}", f"--port {port}")
    script = script.replace(f"127.0.0.1:{DOC_API_PORT}", f"127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES_THE_PAGE_SETS}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "OEE_DATABASE_URL": clean_database,
        "OEE_DATA_DIR": str(tmp_path / "data"),
    }
    with pi_server() as server:
        config = tmp_path / "config" / "historian_config.yml"
        config.write_text(config.read_text().replace(DOC_PI_URL, server.base_url))
        done = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=1700,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]

    # The exported model applied again changes nothing.
    assert "plant.exported.yaml: 0 rows changed" in done.stdout, done.stdout
    # The API answered with the night's shift report of the line, and the press's snapshots.
    # curl's body has no final newline: the API's access log line may follow it on the same line.
    [report_line] = [line for line in done.stdout.splitlines() if line.startswith(("[", "{"))]
    reports, _ = json.JSONDecoder().raw_decode(report_line)
    rows = reports if isinstance(reports, list) else next(v for v in reports.values() if isinstance(v, list))
    assert [(r["line_id"], r["shift_id"]) for r in rows] == [("TSU-L1", "TSU-NIGHT")]
    # snapshot_time (the window end) in [2025-03-04, 2025-03-05): the header and 95 windows
    assert len((tmp_path / "press_snapshots.csv").read_text().splitlines()) == 1 + 95
    # Every snapshot of both machines is the hand-computed one.
    actual, expected = snapshot_rows(clean_database), expected_snapshots()
    assert set(actual) == set(expected)
    assert {key: diff for key in expected if (diff := differences(actual[key], expected[key]))} == {}
