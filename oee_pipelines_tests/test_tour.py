"""The picture tour (docs/tour.md): screenshots of the product as a user sees it, taken on the demo data.

`oee demo` fills a scratch warehouse, `oee up` serves it (Dagster webserver and daemon, the API), a
one-day backfill is launched through Dagster's GraphQL as the UI's backfill dialog launches it, and
headless Chromium visits each page of the tour. Every page must show what the tour says it shows
(asserted below, so a page that breaks fails the test), and every picture is rewritten on each run,
so the pictures in docs/tour.md are the product's and cannot drift from it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import psycopg
import pytest
from playwright.sync_api import Browser, Page
from psycopg import sql

from oee_pipelines.cli.dagster_home import DAGSTER_STORAGE_VARIABLE, ensure_dagster_database
from oee_pipelines.services.runs import DagsterRuns
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.browser import chromium_browser
from oee_pipelines_tests.support.ports import hold_simulated_plant_ports
from oee_pipelines_tests.support.processes import log_tails, venv_command, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
IMAGES = PROJECT_ROOT / "docs" / "images"
TOUR = PROJECT_ROOT / "docs" / "tour.md"
PAGE_TIMEOUT_MS = 90_000
DEMO_DAYS = 1  # `make demo` runs three days; one keeps the test to a few minutes
DEMO_FIRST_DAY = DEMO_LAST_DAY = "2025-01-13"  # `oee demo`'s first day
BACKFILL_DAY = DEMO_FIRST_DAY  # the backfill recomputes what the demo built
BACKFILL_ASSET = "shift_reports"


@dataclass(frozen=True)
class Product:
    dagster_url: str
    api_url: str
    api_key: str
    backfill_id: str
    logs: list[Path]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _oee(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([venv_command("oee"), *args], env=env, capture_output=True, text=True, timeout=1500)
    assert done.returncode == 0, f"oee {' '.join(args)} -> {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture
def product(database_url: str) -> Iterator[Product]:
    """The demo's data served by `oee up`, with one finished backfill; stopped by PID afterwards.

    The simulated plant's fixed ports are held from the demo until `oee up` has stopped. The folder is
    not under pytest's tmp folder: creating one there may tighten its permissions while another test's
    embedded PostgreSQL (its own system user when the tests run as root) uses it."""
    folder = Path(tempfile.mkdtemp(prefix="oee-tour-"))
    with hold_simulated_plant_ports():
        try:
            yield from _served_demo(database_url, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _served_demo(database_url: str, folder: Path) -> Iterator[Product]:
    warehouse_url = _scratch_database(database_url, f"oee_tour_{os.getpid()}")
    unset = ("OEE_CONFIG_FILE", "OEE_CONFIG_DIR", "OEE_LAKE_ROOT", "OEE_IMPORT_INBOX", "DAGSTER_HOME")
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env |= {
        "OEE_DATABASE_URL": warehouse_url,
        "OEE_DATA_DIR": str(folder / "data"),
        DAGSTER_STORAGE_VARIABLE: ensure_dagster_database(database_url, f"dagster_tour_{os.getpid()}"),
    }
    _oee(env, "demo", "--days", str(DEMO_DAYS))
    api_key = _oee(env, "api-key", "create", "--org", "demo", "--name", "picture tour").strip()

    dagster_port, api_port = free_port(), free_port()
    log = folder / "up.log"
    with log.open("wb") as output:
        up = subprocess.Popen(
            [venv_command("oee"), "up", "--dagster-port", str(dagster_port), "--api-port", str(api_port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    dagster_url, api_url = f"http://127.0.0.1:{dagster_port}", f"http://127.0.0.1:{api_port}"
    try:
        wait_until(
            lambda: _answers(f"{dagster_url}/server_info") and _answers(f"{api_url}/health"),
            300,
            "Dagster and the API answering",
            [log],
        )
        # The UI's first-visit "Join the Dagster community" dialog, marked seen as its Skip button does.
        httpx.post(f"{dagster_url}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=60)
        runs = DagsterRuns(graphql_url=f"{dagster_url}/graphql", timeout_seconds=60)
        backfill_id = runs.launch_partition_backfill([BACKFILL_ASSET], partition_keys=[BACKFILL_DAY])
        wait_until(
            lambda: runs.backfill_status(backfill_id) not in {"REQUESTED", "STARTED"},
            600,
            "the tour's backfill",
            [log],
        )
        assert runs.backfill_status(backfill_id) == "COMPLETED_SUCCESS", log_tails([log])
        yield Product(dagster_url, api_url, api_key, backfill_id, [log])
    finally:
        children = psutil.Process(up.pid).children(recursive=True) if up.poll() is None else []
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            up.kill()
            up.wait()
        for child in psutil.wait_procs(children, timeout=10)[1]:
            child.kill()
        with psycopg.connect(database_url, autocommit=True) as conn:
            for name in (f"oee_tour_{os.getpid()}", f"dagster_tour_{os.getpid()}"):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _scratch_database(database_url: str, name: str) -> str:
    """A new, empty database `name` on the test server (the demo migrates it); its URL."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_browser() as launched:
        yield launched


def _shoot(page: Page, name: str) -> Path:
    path = IMAGES / f"tour-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, f"{path.name} looks blank"
    return path


def _use_api_key(page: Page, product: Product, path: str) -> None:
    page.goto(f"{product.api_url}{path}")
    page.fill("#api-key", product.api_key)
    page.press("#api-key", "Enter")


@dataclass(frozen=True)
class Stop:
    name: str  # the picture's name: docs/images/tour-<name>.png
    visit: Callable[[Page, Product], None]


def _asset_graph(page: Page, product: Product) -> None:
    page.goto(f"{product.dagster_url}/locations/oee_pipelines/asset-groups/oee")
    for asset in ("enriched_telemetry", "oee_snapshots", "shift_reports", "oee_data_mart"):
        page.get_by_text(asset, exact=True).first.wait_for()


def _partitions(page: Page, product: Product) -> None:
    page.goto(f"{product.dagster_url}/assets/oee_snapshots?view=partitions&partition={BACKFILL_DAY}")
    page.get_by_text(f"Materialized ({DEMO_DAYS})").first.wait_for()
    page.get_by_text("dagster/row_count").first.wait_for()  # the selected day's latest materialization


def _materialization(page: Page, product: Product) -> None:
    page.goto(f"{product.dagster_url}/assets/oee_snapshots?view=events")
    page.get_by_text("dagster/row_count").first.wait_for()


def _asset_check(page: Page, product: Product) -> None:
    page.goto(f"{product.dagster_url}/assets/enriched_telemetry?view=checks")
    page.get_by_text("machine_state_present").first.wait_for()


def _backfill(page: Page, product: Product) -> None:
    page.goto(f"{product.dagster_url}/runs/b/{product.backfill_id}")
    page.get_by_text(f"{BACKFILL_DAY}...{BACKFILL_DAY}").first.wait_for()
    page.get_by_text("100% completed").first.wait_for()


def _dashboard(page: Page, product: Product) -> None:
    """The dashboard over the demo days, every machine of the demo plant in its table."""
    _use_api_key(page, product, "/oee/analytics")
    page.wait_for_selector("#machine option[value='MACHINE-016']", state="attached")
    page.evaluate(
        """([from, to]) => {
             document.querySelector('#date-from').value = from;
             const to_ = document.querySelector('#date-to');
             to_.value = to;
             to_.dispatchEvent(new Event('change'));
           }""",
        [DEMO_FIRST_DAY, DEMO_LAST_DAY],
    )
    page.wait_for_function(
        """() => document.querySelector('#dashboard').getAttribute('aria-busy') === 'false'
             && document.querySelectorAll('#machine-table tbody tr').length === 16"""
    )


def _export_dialog(page: Page, product: Product) -> None:
    _dashboard(page, product)
    page.click("#export-button")
    page.get_by_role("menuitem", name="Parquet").wait_for()


BAD_SENSOR_LOG = (
    "timestamp,machine_id,sensor_type,value,unit,quality\n"
    "2025-01-14T08:00:00Z,MACHINE-001,temperature,71.5,degC,100\n"
    "2025-01-14T08:01:00Z,MACHINE-999,temperature,71.9,degC,100\n"
    "2025-01-14T08:02:00Z,MACHINE-001,temperature,warm,degC,100\n"
)


def _import_wizard(page: Page, product: Product) -> None:
    """A sensor log with an unknown machine and a value that is not a number, checked: nothing lands."""
    _use_api_key(page, product, "/import")
    page.select_option("#import-type", "sensor_log")
    page.set_input_files(
        "#file",
        files=[{"name": "line1_readings.csv", "mimeType": "text/csv", "buffer": BAD_SENSOR_LOG.encode()}],
    )
    page.click("#check-button")
    page.locator("#bad-rows").wait_for()
    page.get_by_text("MACHINE-999").first.wait_for()
    assert page.locator("#confirm-button").is_disabled()


def _api_docs(page: Page, product: Product) -> None:
    page.goto(f"{product.api_url}/docs")
    page.wait_for_selector(".swagger-ui .opblock .opblock-summary-path")


TOUR_STOPS = [
    Stop("asset-graph", _asset_graph),
    Stop("partitions", _partitions),
    Stop("materialization", _materialization),
    Stop("asset-check", _asset_check),
    Stop("backfill", _backfill),
    Stop("dashboard", _dashboard),
    Stop("export-dialog", _export_dialog),
    Stop("import-wizard", _import_wizard),
    Stop("api-docs", _api_docs),
]


def test_every_tour_stop_shows_what_the_tour_says(product: Product, browser: Browser) -> None:
    """One test for the whole tour: the demo and `oee up` behind it run once (about five minutes)."""
    for stop in TOUR_STOPS:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        try:
            stop.visit(page, product)
            page.wait_for_timeout(2_000)  # let charts and the UI's transitions settle before the picture
            _shoot(page, stop.name)
        finally:
            context.close()


def test_tour_shows_every_picture_it_takes() -> None:
    text = TOUR.read_text()
    shown = set(re.findall(r"images/(tour-[\w-]+\.png)", text))
    assert shown == {f"tour-{stop.name}.png" for stop in TOUR_STOPS}
