"""`oee <group> ...` imports its own command group only (issue 19 item 7).

`oee demo` starts `oee iot ingest` and waits for it to subscribe; importing every command group
(Dagster, the API, the BI writers) cost that process 3 s of CPU on the 2-core machine the demo
shares with the IoT simulation.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oee_pipelines.cli import COMMAND_GROUP_NAMES, COMMAND_MODULES, build_parser, named_group

PROBE = """
import json, sys
from oee_pipelines.cli import main
try:
    main(["iot", "ingest", "--help"])
except SystemExit as done:
    code = done.code
loaded = [name for name in ("dagster", "fastapi", "oee_pipelines.cli.api", "oee_pipelines.cli.demo",
                            "oee_pipelines.cli.bi", "oee_pipelines.cli.iot") if name in sys.modules]
print(json.dumps({"code": code, "loaded": loaded}))
"""


def test_oee_iot_ingest_imports_neither_dagster_nor_the_other_command_groups() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe == {"code": 0, "loaded": ["oee_pipelines.cli.iot"]}
    assert "--ready-file" in done.stdout


@pytest.mark.parametrize(
    ("argv", "group"),
    [
        (["iot", "ingest"], "iot"),
        (["demo", "--days", "1"], "demo"),
        (["import", "file.csv"], "imports"),  # the command `import` is registered by `cli/imports.py`
        (["api-key", "list"], "api"),
        (["imports"], None),  # a module's name is no command
        (["--debug", "iot", "ingest"], None),  # an option first: the whole parser, as before
        (["nonsense"], None),
        ([], None),
    ],
)
def test_the_group_is_the_first_argument_when_it_names_one(argv: list[str], group: str | None) -> None:
    assert named_group(argv) == group


@pytest.mark.parametrize(
    "argv",
    [
        ["iot", "ingest", "--broker-host", "broker.local", "--topic", "a/#", "--topic", "b/#"],
        ["demo", "--days", "2", "--keep-running"],
        ["db", "url"],
        ["import", "file.csv", "--type", "downtime"],
        ["api-key", "list", "--org", "demo"],
    ],
)
def test_one_groups_parser_reads_a_command_as_the_whole_parser_does(argv: list[str]) -> None:
    whole = vars(build_parser().parse_args(argv))
    alone = vars(build_parser(named_group(argv)).parse_args(argv))
    assert alone == whole
    assert alone["handler"] is whole["handler"]


def test_the_whole_parser_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    usage = capsys.readouterr().out
    assert "{db,demo,up,api,api-key,bi,iot,import,plant}" in usage
    assert set(COMMAND_MODULES) == {"db", "demo", "up", "api", "api-key", "bi", "iot", "import", "plant"}
    assert set(COMMAND_MODULES.values()) == set(COMMAND_GROUP_NAMES)
