"""Every `oee` command is quiet and clear: `--help` of each, and a failing case of each, run as their
own processes with stderr captured: no traceback, no warning, one line, the documented exit code
(docs/cli.md; `oee_pipelines/cli/errors.py`).

The commands are discovered from the parser; a new command without a failing case below fails
`test_every_command_has_a_failing_case`. Most runs go through `oee_runner.py` (the CLI imported
once, a forked process per command line: about 1 s each instead of one Dagster import each); two
go through the installed `oee` console script itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from oee_pipelines.cli import build_parser
from oee_pipelines.cli.errors import EXIT_FAILED, EXIT_PORT_IN_USE, EXIT_UNREACHABLE, EXIT_USAGE

OEE = str(Path(sys.executable).parent / "oee")
UNREACHABLE_DATABASE = "postgresql://127.0.0.1:1/x"
WARNING = re.compile(r"\b\w*Warning\b")  # RuntimeDirWarning, BetaWarning, UserWarning, FutureWarning, ...


@dataclass(frozen=True)
class Case:
    argv: list[str]
    exit_code: int
    says: str  # a part of stderr naming what to fix
    env: dict[str, str] = field(default_factory=dict)
    max_lines: int = 1  # stderr lines; argparse's usage errors and `plant validate`'s list say more


def commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and command group under `parser` (groups first), as argv prefixes."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield (*prefix, name)
                yield from commands(subparser, (*prefix, name))


def is_group(parser: argparse.ArgumentParser, command: tuple[str, ...]) -> bool:
    return any(command == other[: len(command)] and other != command for other in commands(parser))


PARSER = build_parser()
ALL_COMMANDS = list(commands(PARSER))
LEAVES = [command for command in ALL_COMMANDS if not is_group(PARSER, command)]


def failing_cases(folder: Path, busy_port: int) -> list[Case]:
    """A failing case of every command, by its argv prefix."""
    not_a_folder = folder / "a-file"
    not_a_folder.write_text("")
    bad_plant = folder / "plant.yaml"
    bad_plant.write_text("version: 1\norganization: {id: acme, name: Acme}\nidle_cycle_time: 3\n")
    missing = folder / "missing"
    unreachable = {"OEE_DATABASE_URL": UNREACHABLE_DATABASE}
    cannot_connect = "OEE_DATABASE_URL: cannot connect to 127.0.0.1:1/x: Connection refused"
    return [
        Case(["db", "migrate"], EXIT_USAGE, cannot_connect, unreachable),
        Case(
            ["db", "start"], EXIT_USAGE, f"{not_a_folder}: File exists", {"OEE_DATA_DIR": str(not_a_folder)}
        ),
        # Nothing to fail on (stopping a stopped server is fine): a bad argument, with argparse's usage.
        Case(["db", "stop", "--now"], EXIT_USAGE, "unrecognized arguments: --now", max_lines=30),
        Case(["db", "url"], EXIT_USAGE, cannot_connect, unreachable),
        Case(["demo"], EXIT_USAGE, cannot_connect, unreachable),
        Case(
            ["up", "--dagster-port", str(busy_port)],
            EXIT_PORT_IN_USE,
            f"port {busy_port} on 127.0.0.1 is in use",
        ),
        Case(["api", "--port", str(busy_port)], EXIT_PORT_IN_USE, "pass --port <another port>"),
        Case(["api-key", "create", "--org", "acme", "--name", "x"], EXIT_USAGE, cannot_connect, unreachable),
        Case(["api-key", "revoke", "oee_x"], EXIT_USAGE, cannot_connect, unreachable),
        Case(["api-key", "list", "--org", "acme"], EXIT_USAGE, cannot_connect, unreachable),
        Case(
            [
                "bi",
                "hyper",
                "--table",
                "snapshots",
                "--out",
                str(folder / "x.hyper"),
                "--parquet",
                f"{missing}.parquet",
            ],
            EXIT_USAGE,
            f"{missing}.parquet",
        ),
        Case(["iot", "ingest"], EXIT_USAGE, "no MQTT broker: set iot.mqtt.broker in OEE_CONFIG_FILE"),
        Case(["iot", "poll"], EXIT_USAGE, "no HTTP sensors: set iot.http_polling.endpoints"),
        Case(
            ["iot", "simulate", "--broker-host", "127.0.0.1", "--broker-port", "1"],
            EXIT_UNREACHABLE,
            "Connection refused",
        ),
        Case(["import", f"{missing}.csv", "--type", "sensor_log"], EXIT_USAGE, f"no such file {missing}.csv"),
        Case(["plant", "validate", str(bad_plant)], EXIT_FAILED, "idle_cycle_time: unknown key", max_lines=5),
        Case(["plant", "apply", f"{missing}.yaml"], EXIT_USAGE, f"{missing}.yaml"),
        Case(["plant", "export"], EXIT_USAGE, cannot_connect, unreachable),
    ]


def case_key(case: Case, leaves: list[tuple[str, ...]]) -> tuple[str, ...]:
    return max((leaf for leaf in leaves if case.argv[: len(leaf)] == list(leaf)), key=len)


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("oee-commands")


@pytest.fixture(scope="module")
def environment(folder: Path) -> dict[str, str]:
    """The user's environment without a runtime dir (no login session, as in a container or CI)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OEE_") and k != "XDG_RUNTIME_DIR"}
    return {**env, "OEE_DATA_DIR": str(folder / "data")}


@pytest.fixture(scope="module")
def cases(folder: Path, busy_port: int) -> list[Case]:
    return failing_cases(folder, busy_port)


@pytest.fixture(scope="module")
def runs(
    folder: Path, environment: dict[str, str], cases: list[Case]
) -> tuple[str, dict[tuple[str, ...], dict[str, Any]]]:
    """Run every `--help` and every failing case at once: (what the import printed, results by argv)."""
    argvs = [["--help"], *([*command, "--help"] for command in ALL_COMMANDS)]
    requests = [{"argv": argv} for argv in argvs] + [{"argv": case.argv, "env": case.env} for case in cases]
    runner = subprocess.run(
        [sys.executable, "-m", "oee_pipelines_tests.cli.oee_runner"],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        env=environment,
        cwd=folder,
        timeout=600,
        check=True,
    )
    output = json.loads(runner.stdout)
    return output["import_stderr"] + runner.stderr, {tuple(r["argv"]): r for r in output["results"]}


def assert_quiet(result: dict[str, Any]) -> None:
    assert "Traceback" not in result["stderr"], result
    assert not WARNING.search(result["stderr"]), result


def test_the_commands_are_discovered() -> None:
    assert {("db", "migrate"), ("import",), ("plant", "validate"), ("iot", "ingest")} <= set(LEAVES)
    assert ("db",) not in LEAVES


def test_every_command_has_a_failing_case(cases: list[Case]) -> None:
    covered = {case_key(case, LEAVES) for case in cases}
    assert sorted(set(LEAVES) - covered) == [], "add a failing case for each new command to failing_cases()"


def test_importing_the_cli_prints_nothing(runs: tuple[str, dict]) -> None:
    import_stderr, _ = runs
    assert import_stderr == ""


@pytest.mark.parametrize("command", [(), *ALL_COMMANDS], ids=lambda c: " ".join(c) or "oee")
def test_help(runs: tuple[str, dict], command: tuple[str, ...]) -> None:
    result = runs[1][(*command, "--help")]
    assert result["returncode"] == 0, result
    assert result["stdout"].startswith(f"usage: {' '.join(('oee', *command))}"), result["stdout"][:200]
    assert result["stderr"] == ""


@pytest.mark.parametrize("leaf", LEAVES, ids=" ".join)
def test_a_failing_case(runs: tuple[str, dict], cases: list[Case], leaf: tuple[str, ...]) -> None:
    matching = [case for case in cases if case_key(case, LEAVES) == leaf]
    if not matching:
        pytest.fail(f"no failing case of `oee {' '.join(leaf)}` in failing_cases()")
    case = matching[0]
    result = runs[1][tuple(case.argv)]
    assert_quiet(result)
    assert result["returncode"] == case.exit_code, result
    assert case.says in result["stderr"], result
    assert 1 <= len(result["stderr"].strip().splitlines()) <= case.max_lines, result["stderr"]
    if case.max_lines == 1:
        assert result["stderr"].startswith("oee"), result["stderr"]


def test_commands_that_succeed_print_no_warning(
    folder: Path, environment: dict[str, str], database_url: str
) -> None:
    """A few commands doing their work on the test warehouse: exit 0, and nothing on stderr."""
    argvs = [["db", "url"], ["db", "migrate"], ["api-key", "list", "--org", "acme"]]
    runner = subprocess.run(
        [sys.executable, "-m", "oee_pipelines_tests.cli.oee_runner"],
        input=json.dumps([{"argv": argv} for argv in argvs]),
        capture_output=True,
        text=True,
        env={**environment, "OEE_DATABASE_URL": database_url},
        cwd=folder,
        timeout=600,
        check=True,
    )
    output = json.loads(runner.stdout)
    assert output["import_stderr"] == ""
    for result in output["results"]:
        assert (result["argv"], result["returncode"], result["stderr"]) == (result["argv"], 0, ""), result


def test_the_console_script(folder: Path, environment: dict[str, str]) -> None:
    """The installed `oee` itself: --version, and a command that imports pgserver with no runtime dir
    (platformdirs' RuntimeDirWarning used to print on every command)."""
    not_a_folder = folder / "console-a-file"
    not_a_folder.write_text("")

    def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [OEE, *argv], env=env, cwd=folder, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    runs = {
        "version": start(["--version"], environment),
        "start": start(["db", "start"], {**environment, "OEE_DATA_DIR": str(not_a_folder)}),
    }
    (out, err), (_, start_err) = (process.communicate(timeout=300) for process in runs.values())
    assert (runs["version"].returncode, out, err) == (0, f"oee {version('oee_pipelines')}\n", "")
    assert runs["start"].returncode == EXIT_USAGE
    assert start_err == f"oee: {not_a_folder}: File exists\n"


def test_an_unexpected_error_is_one_line_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    from oee_pipelines.cli import errors

    assert errors.report(RuntimeError("boom\nsecond line"), debug=False) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    hint = "(run `oee --debug ...` or set OEE_DEBUG=1 for the traceback)"
    assert err == f"oee: unexpected error: RuntimeError: boom {hint}\n"
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        assert errors.report(exc, debug=True) == errors.EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1] == "oee: unexpected error: RuntimeError: boom"
