"""The package as an operator installs it: a wheel in a fresh virtual environment, far from the repository.

`scripts/install-image.sh` (the Dockerfile's install steps) builds the wheel and installs it with the
lock into a new venv under /tmp. To keep the test near a minute, the new venv sees this venv's
already-installed dependencies through a `.pth` line pointing at a mirror of its site-packages
without the project itself (so `pip install --require-hashes -r requirements/lock.txt` finds every
locked package satisfied, and `oee_pipelines` can only come from the wheel). From a temporary folder
it then runs `oee db migrate` on a fresh embedded PostgreSQL (every table of sql/ created), one
Dagster job on the packaged instance template, and `oee api` answering /health.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from oee_pipelines_tests.support.processes import log_tails, start_logged, wait_until

# Building and installing take ~30 s on an idle 2-core machine, several minutes when it is loaded.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[1]
INSTALL_SCRIPT = REPO / "scripts" / "install-image.sh"
# Entries of this venv's site-packages the test venv must not see: the project (its editable finder
# and metadata) and the packaging tools the new venv has its own copies of.
HIDDEN = re.compile(r"^(oee_pipelines|__editable__|pip|setuptools|_distutils_hack|pkg_resources)|\.pth$")
# A small plant model file in the format of oee_pipelines/domain/plant_model.py.
PLANT_MODEL = """\
version: 1
organization: {id: demo, name: Wheel test plant}
reason_codes:
  - {code: BRK-MECH, name: Mechanical breakdown, category: Breakdowns, planned: false, loss: breakdowns}
products:
  - {id: WT-BTL, name: Bottle, unit: pcs, ideal_cycle_time_seconds: 1.5}
sites:
  - id: WT-SITE
    name: Wheel test site
    timezone: Europe/Warsaw
    shifts:
      - {id: WT-DAY, name: Day, start: "06:00", end: "14:00", weekdays: [1, 2, 3, 4, 5]}
    lines:
      - id: WT-L1
        name: Line 1
        machines:
          - {id: WT-M1, name: Filler 1, type: filler}
"""
CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([a-z_][a-z0-9_]*)", re.IGNORECASE)


@dataclass
class WheelInstall:
    root: Path
    venv: Path
    wheel: Path
    env: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def oee(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "oee"), *args, timeout=timeout)

    def timed(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 1)
        print(f"\n[test_wheel] {name}: {self.timings[name]} s", flush=True)


def _mirror_site_packages(target: Path) -> Path:
    """Symlinks to this venv's installed distributions, minus the project and pip/setuptools."""
    mirror = target / "dependencies"
    mirror.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not HIDDEN.search(entry.name):
            (mirror / entry.name).symlink_to(entry)
    return mirror


def _clean_env(root: Path, venv: Path) -> dict[str, str]:
    """The environment of an operator's shell: no repository path, no project settings of this run."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OEE_", "DAGSTER_", "PYTHON", "VIRTUAL_ENV", "PYTEST"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["OEE_DATA_DIR"] = str(root / "data")
    env["DAGSTER_HOME"] = str(root / "dagster_home")
    return env


@pytest.fixture(scope="module")
def installed() -> Iterator[WheelInstall]:
    # Not under pytest's tmp folder: the embedded server runs as its own system user when tests run
    # as root, and pytest may tighten its tmp permissions.
    root = Path(tempfile.mkdtemp(prefix="oee-wheel-"))
    os.chmod(root, 0o755)
    try:
        started = time.monotonic()
        venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        site = Path(
            subprocess.run(
                [str(venv / "bin" / "python"), "-c", purelib], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
        (site / "_oee_test_dependencies.pth").write_text(f"{_mirror_site_packages(root)}\n")
        install = WheelInstall(root=root, venv=venv, wheel=Path(), env=_clean_env(root, venv))
        install.workdir.mkdir()
        install.timed("venv", started)

        started = time.monotonic()
        result = subprocess.run(
            ["bash", str(INSTALL_SCRIPT), str(REPO), str(venv)],
            env={**install.env, "PYTHON": sys.executable},
            cwd=install.workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        install.wheel = next((venv / "wheels").glob("oee_pipelines-*.whl"))
        install.timed("build wheel + install (scripts/install-image.sh)", started)
        yield install
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def migrated(installed: WheelInstall) -> Iterator[subprocess.CompletedProcess[str]]:
    """`oee db migrate` from the temporary folder: starts a fresh embedded PostgreSQL in OEE_DATA_DIR."""
    started = time.monotonic()
    result = installed.oee("db", "migrate")
    installed.timed("oee db migrate (embedded PostgreSQL start included)", started)
    try:
        yield result
    finally:
        installed.oee("db", "stop", timeout=120)


def test_wheel_carries_migrations_instance_template_and_static_files(installed: WheelInstall) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        symlinks = [i.filename for i in wheel.infolist() if (i.external_attr >> 16) & 0o170000 == 0o120000]
    migrations = {f"oee_pipelines/storage/sql/{p.name}" for p in (REPO / "sql").glob("*.sql")}
    assert migrations and migrations <= names, sorted(migrations - names)
    assert {"oee_pipelines/cli/dagster.yaml", "oee_pipelines/cli/workspace.yaml"} <= names
    static = {
        f"oee_pipelines/{p.relative_to(REPO / 'oee_pipelines')}"
        for folder in ("api/static", "connectors/files/templates")
        for p in (REPO / "oee_pipelines" / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert static and static <= names, sorted(static - names)
    assert symlinks == []  # files, not links back into a repository that is not there


def test_the_package_comes_from_the_wheel(installed: WheelInstall) -> None:
    result = installed.run(
        str(installed.venv / "bin" / "python"),
        "-c",
        "import oee_pipelines, sys; from oee_pipelines.storage.migrations import SQL_DIR;"
        "from oee_pipelines.cli.dagster_home import DAGSTER_YAML_TEMPLATE;"
        "print(oee_pipelines.__file__); print(SQL_DIR); print(DAGSTER_YAML_TEMPLATE); print(sys.path)",
    )
    assert result.returncode == 0, result.stderr
    package_file, sql_dir, template, path = result.stdout.splitlines()
    assert Path(package_file).is_relative_to(installed.venv)
    assert Path(sql_dir).is_relative_to(installed.venv) and not Path(sql_dir).is_symlink()
    assert Path(template).read_text() == (REPO / "dagster.yaml").read_text()
    assert str(REPO) not in path


def test_the_image_recipe_is_this_script_and_compose_runs_installed_commands(installed: WheelInstall) -> None:
    """The Dockerfile runs scripts/install-image.sh on the files it copies, and every command of
    deploy/compose.yaml is a console script of the installed environment that accepts its arguments."""
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "RUN PIP_NO_CACHE_DIR=1 bash scripts/install-image.sh /src /opt/oee" in dockerfile
    assert re.search(r"^USER oee$", dockerfile, re.MULTILINE)
    copied = {
        source.rstrip("/")
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from=" not in line
        for source in line.split()[1:-1]
        if not source.startswith("--")
    }
    script = INSTALL_SCRIPT.read_text()
    tar_inputs = re.search(r"-cf - \\\n\s+(.+?) \|", script)
    assert tar_inputs, "install-image.sh no longer names the wheel's inputs on its tar line"
    built_from = set(tar_inputs.group(1).split())
    assert built_from | {"requirements", "scripts/install-image.sh"} <= copied
    assert all((REPO / source).exists() for source in copied), copied

    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    commands = [
        service["command"]
        for service in compose["services"].values()
        if service.get("image", "").startswith("oee")
    ]
    scripts = installed.run(
        str(installed.venv / "bin" / "python"), "-c",
        "from importlib.metadata import entry_points;"
        "print(' '.join(e.name for e in entry_points(group='console_scripts')))",
    ).stdout.split()  # fmt: skip
    for command in commands:
        if command[:2] == ["sh", "-c"]:
            command = command[2].split(" && ")[0].split()
        assert command[0] in scripts, command
        if command[0] == "oee":
            parsed = installed.oee(*command[1:], "--help", timeout=120)
            assert parsed.returncode == 0, (command, parsed.stderr)


def test_migrate_from_the_wheel_creates_every_table(
    installed: WheelInstall, migrated: subprocess.CompletedProcess[str]
) -> None:
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    files = sorted(p.name for p in (REPO / "sql").glob("*.sql"))
    assert [line.split()[-1] for line in migrated.stdout.splitlines() if line.startswith("applied")] == files
    expected = {
        name.lower() for p in (REPO / "sql").glob("*.sql") for name in CREATE_TABLE.findall(p.read_text())
    }
    url = installed.oee("db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert expected and expected <= tables, sorted(expected - tables)
    again = installed.oee("db", "migrate")
    assert again.returncode == 0 and again.stdout.strip() == f"up to date ({len(files)} migrations)"


def test_a_job_runs_on_the_packaged_instance(
    installed: WheelInstall, migrated: subprocess.CompletedProcess[str]
) -> None:
    # The instance an operator gets: the packaged template in DAGSTER_HOME, its storage a `dagster`
    # database beside the warehouse (`oee db url --dagster` creates it).
    home = Path(installed.env["DAGSTER_HOME"])
    home.mkdir(exist_ok=True)
    shutil.copyfile(
        installed.venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / "site-packages" / "oee_pipelines" / "cli" / "dagster.yaml",
        home / "dagster.yaml",
    )  # fmt: skip
    storage = installed.oee("db", "url", "--dagster")
    assert storage.returncode == 0, storage.stderr
    installed.env["OEE_DAGSTER_STORAGE_URL"] = storage.stdout.strip()
    # The operator's plant model file (the organization is the simulated roster's, `demo`).
    plant_file = installed.workdir / "plant_model.yaml"
    plant_file.write_text(PLANT_MODEL)
    installed.env["OEE_PLANT_MODEL_FILE"] = str(plant_file)
    started = time.monotonic()
    result = installed.run(
        str(installed.venv / "bin" / "python"), "-m", "dagster", "job", "execute",
        "-m", "oee_pipelines.definitions", "-j", "reference_data_job",
    )  # fmt: skip
    installed.timed("dagster job execute reference_data_job", started)
    failures = [line for line in (result.stdout + result.stderr).splitlines() if "FAILURE" in line]
    assert result.returncode == 0, "\n".join(failures) + (result.stdout + result.stderr)[-3000:]
    url = installed.oee("db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        machines = conn.execute("SELECT code FROM machines").fetchall()
    dagster_url = installed.env["OEE_DAGSTER_STORAGE_URL"].replace("postgresql+psycopg2://", "postgresql://")
    with psycopg.connect(dagster_url) as conn:
        runs = conn.execute("SELECT status FROM runs WHERE pipeline_name = 'reference_data_job'").fetchall()
    assert machines == [("WT-M1",)]
    assert runs == [("SUCCESS",)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_api_answers_health(installed: WheelInstall, migrated: subprocess.CompletedProcess[str]) -> None:
    port = _free_port()
    log = installed.root / "api.log"
    started = time.monotonic()
    api = start_logged(
        [str(installed.venv / "bin" / "oee"), "api", "--host", "127.0.0.1", "--port", str(port)],
        installed.env,
        log,
    )
    try:

        def healthy() -> bool:
            assert api.poll() is None, log_tails([log])
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 90, "oee api answering /health", [log])
        installed.timed("oee api up and answering /health", started)
    finally:
        os.killpg(api.pid, signal.SIGTERM)
        try:
            api.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(api.pid, signal.SIGKILL)
            api.wait(timeout=10)


def test_migrate_refuses_a_package_without_migrations(
    installed: WheelInstall, migrated: subprocess.CompletedProcess[str]
) -> None:
    """What a wheel without its sql/ files used to do: print `up to date (0 migrations)` and exit 0."""
    result = installed.run(
        str(installed.venv / "bin" / "python"),
        "-c",
        "from oee_pipelines.storage.migrations import SQL_DIR; print(SQL_DIR)",
    )
    sql_dir = Path(result.stdout.strip())
    for path in sql_dir.glob("*.sql"):
        path.unlink()  # the test venv's copy only
    refused = installed.oee("db", "migrate")
    assert refused.returncode == 1
    assert "no migrations found in" in refused.stderr and "up to date" not in refused.stdout
    print(f"\n[test_wheel] timings (s): {installed.timings}", flush=True)
