"""The BI pages in a real browser (Debian's headless Chromium driven by Playwright).

- `/oee/analytics`: the seed's first acceptance scenario (Export > CSV, OEE Snapshots, last 30 days,
  one machine: `OEE_Snapshots_<today>.csv`, the seed's columns, 2,880 rows) and the chart beside it;
  screenshots are saved under the test's tmp dir and, when `OEE_TEST_ARTIFACTS` is set, copied there.
- `/bi/tableau/`: the Web Data Connector with a stub `tableau` object: getSchema and getData are
  called and the rows appended equal the API's.
"""

from __future__ import annotations

import csv
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.storage.bulk_load import copy_arrow
from oee_pipelines_tests.support.browser import chromium_browser
from oee_pipelines_tests.support.tenant_warehouse import WINDOW, snapshot_rows

SEED_COLUMNS = [
    "snapshot_time", "machine_id", "machine_name", "oee_pct", "availability_pct", "performance_pct",
    "quality_pct", "shift_id",
]  # fmt: skip
TIMEOUT_MS = 20_000
STUB_TABLEAU = """
window.__wdc = { submitted: false, progress: [] };
window.tableau = {
  phaseEnum: { interactivePhase: "interactive", authPhase: "auth", gatherDataPhase: "gatherData" },
  authTypeEnum: { none: "none", basic: "basic", custom: "custom" },
  dataTypeEnum: { bool: "bool", date: "date", datetime: "datetime", float: "float", int: "int",
                  string: "string", geometry: "geometry" },
  phase: "interactive", connectionData: "", connectionName: "", password: "", username: "",
  makeConnector() { return { init(done) { done(); }, shutdown(done) { done(); } }; },
  registerConnector(connector) { window.__wdc.connector = connector; },
  submit() { window.__wdc.submitted = true; },
  reportProgress(message) { window.__wdc.progress.push(message); },
  abortWithError(message) { window.__wdc.error = message; },
  log() {},
};
"""


def utc_midnight_today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture(scope="module")
def recent_days(database_url: str, api_keys: dict[str, str]) -> datetime:
    """30 whole days before today for MACHINE-A01 (LINE-A1) and MACHINE-A02 (LINE-A2), with times."""
    start = utc_midnight_today() - timedelta(days=30)
    times = [start + i * WINDOW for i in range(30 * 96)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        for machine, line in (("MACHINE-A01", "LINE-A1"), ("MACHINE-A02", "LINE-A2")):
            edges = [start - WINDOW, start + 30 * 96 * WINDOW]
            copy_arrow(
                conn,
                "oee_snapshots",
                snapshot_rows("acme", machine, line, ("SHIFT-A1", "SHIFT-A2"), times + edges),
            )
        # Time columns consistent with the percentages: A01 at A 90.5 / P 95.25 / Q 99.125, A02 lower.
        conn.execute(
            """UPDATE oee_snapshots SET
                 planned_production_time = 15,
                 actual_production_time = CASE machine_id WHEN 'MACHINE-A01' THEN 13.575 ELSE 10.5 END,
                 ideal_production_time = CASE machine_id WHEN 'MACHINE-A01' THEN 12.9302 ELSE 8.4 END,
                 total_pieces = CASE machine_id WHEN 'MACHINE-A01' THEN 800 ELSE 100 END,
                 good_pieces = CASE machine_id WHEN 'MACHINE-A01' THEN 793 ELSE 95 END
               WHERE org_id = 'acme' AND snapshot_time >= %s AND oee_pct IS NOT NULL""",
            (start - WINDOW,),
        )
    return start


@pytest.fixture(scope="module")
def server(api_app: FastAPI, recent_days: datetime) -> Iterator[ServerThread]:
    with ServerThread(api_app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_browser() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 760})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def save_screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    artifacts = os.environ.get("OEE_TEST_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / name)
    return path


def bar_titles(page: Page) -> list[str]:
    return page.locator("#chart svg rect[data-series] title").all_text_contents()


def test_export_page_downloads_the_seed_scenario_csv_beside_a_chart(
    server: ServerThread, page: Page, api_keys: dict, recent_days: datetime, tmp_path: Path
) -> None:
    page.goto(f"{server.base_url}/oee/analytics")
    page.fill("#api-key", api_keys["acme"])
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#machine option[value='MACHINE-A01']", state="attached")
    page.wait_for_selector("#chart svg rect[data-series]")
    assert len(bar_titles(page)) == 8  # two lines x (OEE, availability, performance, quality)
    save_screenshot(page, tmp_path, "oee_analytics_all_machines.png")

    page.select_option("#table", label="OEE Snapshots")
    page.select_option("#preset", label="Last 30 days")
    page.select_option("#machine", value="MACHINE-A01")
    page.wait_for_function(
        "document.querySelector('#chart').getAttribute('aria-busy') === 'false'"
        " && document.querySelectorAll('#chart svg rect[data-series]').length === 4"
    )
    assert page.input_value("#date-from") == recent_days.date().isoformat()
    assert page.input_value("#date-to") == (utc_midnight_today() - timedelta(days=1)).date().isoformat()
    titles = bar_titles(page)
    assert "Acme line 1 OEE: 85.4 %" in titles  # 90.5 % x 95.25 % x 99.125 %, from the summed times
    assert "Acme line 1 Availability: 90.5 %" in titles

    page.click("#export-button")
    with page.expect_download() as download_info:
        page.get_by_role("menuitem", name="CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"OEE_Snapshots_{datetime.now(UTC).date().isoformat()}.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    with target.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == SEED_COLUMNS
    assert len(rows) - 1 == 2880
    assert {row[1] for row in rows[1:]} == {"MACHINE-A01"}
    assert rows[1][0] == recent_days.strftime("%Y-%m-%dT%H:%M:%SZ")
    page.wait_for_selector("#status:has-text('Downloaded OEE_Snapshots_')")
    assert len(bar_titles(page)) == 4 and page.is_hidden("#key-form")
    save_screenshot(page, tmp_path, "oee_analytics.png")

    stored = page.evaluate("[sessionStorage.getItem('oee_api_key'), localStorage.length, location.href]")
    assert stored[0] == api_keys["acme"] and stored[1] == 0 and api_keys["acme"] not in stored[2]


def test_export_page_asks_again_for_a_refused_key(server: ServerThread, page: Page) -> None:
    page.goto(f"{server.base_url}/oee/analytics")
    page.fill("#api-key", "oee_not_a_key")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-form:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('oee_api_key')") is None


def test_tableau_connector_appends_the_apis_rows(
    server: ServerThread, page: Page, client: TestClient, acme: dict, api_keys: dict
) -> None:
    page.add_init_script(STUB_TABLEAU)
    page.goto(f"{server.base_url}/bi/tableau/")
    page.wait_for_function("window.__wdc.connector !== undefined")
    page.fill("#api-key", api_keys["acme"])
    page.fill("#date-from", "2025-01-01")
    page.fill("#date-to", "2025-01-30")
    page.click("#get-data")
    assert page.evaluate("window.__wdc.submitted") is True
    assert page.evaluate("tableau.password") == api_keys["acme"]

    schema = page.evaluate("() => new Promise((resolve) => window.__wdc.connector.getSchema(resolve))")
    tables = {table["id"]: table for table in schema}
    assert {"Snapshots", "Downtime", "ShiftReports", "DataMart", "Machines"} <= set(tables)
    snapshot_columns = {column["id"]: column["dataType"] for column in tables["Snapshots"]["columns"]}
    assert snapshot_columns["snapshot_time"] == "datetime" and snapshot_columns["oee_pct"] == "float"
    assert (
        snapshot_columns["total_pieces"] == "int"
        and tables["Snapshots"]["incrementColumnId"] == "snapshot_time"
    )

    get_data = """([name, incrementValue]) => new Promise((resolve, reject) => {
        const rows = [];
        window.tableau.abortWithError = (message) => reject(new Error(message));
        const table = { tableInfo: window.__schema.find((t) => t.id === name), incrementValue,
                        appendRows: (appended) => rows.push(...appended) };
        window.__wdc.connector.getData(table, () => resolve(rows));
    })"""
    page.evaluate("(schema) => { window.__schema = schema; }", schema)
    appended = page.evaluate(get_data, ["Snapshots", None])
    export = client.get(
        "/api/oee/export/snapshots",
        params={"format": "json", "date_from": "2025-01-01", "date_to": "2025-01-30"},
        headers=acme,
    ).json()
    assert len(appended) == len(export) == 2880 + 96

    def tableau_form(row: dict) -> tuple:
        stamp = row["snapshot_time"].replace("T", " ").replace("Z", "")
        return (
            stamp,
            row["machine_id"],
            row["machine_name"],
            row["oee_pct"],
            row["quality_pct"],
            row["shift_id"],
        )

    assert [tableau_form(row) for row in appended] == [tableau_form(row) for row in export]
    assert page.evaluate("window.__wdc.progress.length") >= 1

    incremental = page.evaluate(get_data, ["Snapshots", "2025-01-30 12:00:00"])
    assert len(incremental) == 47  # 12:15 .. 23:45 of MACHINE-A01's last day
    assert min(row["snapshot_time"] for row in incremental) == "2025-01-30 12:15:00"
    machines = page.evaluate(get_data, ["Machines", None])
    assert sorted(row["machine_id"] for row in machines) == ["MACHINE-A01", "MACHINE-A02"]


def test_tableau_page_without_the_library_says_how_to_install_it(server: ServerThread, page: Page) -> None:
    page.goto(f"{server.base_url}/bi/tableau/")
    page.wait_for_selector("#status:has-text('docs/bi/tableau.md')")


def test_tableau_library_is_served_from_the_configured_file(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/bi/tableau/tableauwdc-2.0.latest.js").status_code == 404
    library = tmp_path / "tableauwdc.js"
    library.write_text("window.tableau = {};\n")
    services = client.app.state.services  # type: ignore[attr-defined]
    # The API reads its settings once, when it is built: configure the built app's settings.
    monkeypatch.setattr(services, "settings", replace(services.settings, tableau_library=str(library)))
    response = client.get("/bi/tableau/tableauwdc-2.0.latest.js")
    assert response.status_code == 200 and response.text == "window.tableau = {};\n"
    assert client.get("/bi/assets/../bi.py").status_code == 404
    assert client.get("/bi/assets/secrets.txt").status_code == 404
