"""The import wizard `/import` and the dry run it checks files with, against the real API app, PostgreSQL
and lake of the API tests, served by uvicorn on 127.0.0.1.

- `dry_run=true` answers the report the import would give (same errors, same status code) and writes
  nothing: no `import_jobs` row, no lake file.
- In headless Chromium, with every request to a host other than 127.0.0.1 aborted: a good file is
  checked, confirmed, and its job shown, and its rows are in the lake; a bad file's rows are listed with
  row, field, value and reason, the import cannot be confirmed, and nothing lands. The screenshots are
  written to `docs/images/import-wizard-*.png` on every run, so the pictures in docs/imports.md are the
  product's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route

from oee_pipelines.connectors.files import template_path
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.simulator.servers.runtime import ServerThread
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.browser import chromium_browser

TIMEOUT_MS = 30_000
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

GOOD_LOG = """timestamp,machine_id,sensor_type,value,unit,quality
2025-05-0{day}T08:00:00Z,MACHINE-A01,temperature,71.5,degC,100
2025-05-0{day}T08:01:00Z,MACHINE-A01,temperature,71.9,degC,100
2025-05-0{day}T08:02:00Z,MACHINE-A02,pressure,4.4,bar,
"""
BAD_LOG = """timestamp,machine_id,sensor_type,value,unit,quality
2025-05-0{day}T08:00:00Z,MACHINE-A01,temperature,"71,5",degC,100
2025-05-0{day}T08:01:00Z,MACHINE-B01,temperature,71.9,degC,100
2025-05-0{day}T08:02:00Z,MACHINE-A02,pressure,4.4,bar,100
noon,MACHINE-A02,pressure,4.5,bar,100
"""
# Row (the header is row 1), field and value of each problem of BAD_LOG; MACHINE-B01 is the other
# organization's machine, unknown to this key.
BAD_CELLS = [("2", "value", "71,5"), ("3", "machine_id", "MACHINE-B01"), ("5", "timestamp", "noon")]


def job_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM import_jobs").fetchone()
    assert row is not None
    return int(row[0])


def import_files(lake_root: str, day: str) -> list[Path]:
    return sorted((Path(lake_root) / "telemetry" / "source=import" / f"date={day}").glob("*.parquet"))


def upload(client: TestClient, headers: dict, name: str, content: str, dry_run: bool):
    return client.post(
        f"/api/import/csv/?type=sensor_log&dry_run={str(dry_run).lower()}",
        headers=headers,
        files={"file": (name, content.encode(), "text/csv")},
    )


# --- the dry run -------------------------------------------------------------------------------------


def test_a_dry_run_of_a_good_file_reports_it_and_writes_nothing(
    client: TestClient, acme: dict, database_url: str, lake_root: str
) -> None:
    before = job_count(database_url)
    checked = upload(client, acme, "may.csv", GOOD_LOG.format(day=1), dry_run=True)

    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert (body["dry_run"], body["job_id"], body["status"], body["rows_read"], body["rows_imported"]) == (
        True, None, "SUCCESS", 3, 3,
    )  # fmt: skip
    assert job_count(database_url) == before
    assert import_files(lake_root, "2025-05-01") == []
    # Checking twice is no duplicate; the real import then lands what the check announced.
    assert upload(client, acme, "may.csv", GOOD_LOG.format(day=1), dry_run=True).status_code == 200
    landed = upload(client, acme, "may.csv", GOOD_LOG.format(day=1), dry_run=False)
    assert landed.status_code == 200 and landed.json()["rows_imported"] == 3
    assert len(import_files(lake_root, "2025-05-01")) == 1
    # Checked again after landing: the import would refuse it as already imported.
    again = upload(client, acme, "may.csv", GOOD_LOG.format(day=1), dry_run=True)
    assert again.status_code == 409
    assert again.json()["duplicate_of_job"] == landed.json()["job_id"]


def test_a_dry_run_of_a_bad_file_gives_the_imports_own_report(
    client: TestClient, acme: dict, database_url: str
) -> None:
    before = job_count(database_url)
    checked = upload(client, acme, "bad.csv", BAD_LOG.format(day=2), dry_run=True)

    assert checked.status_code == 400
    assert job_count(database_url) == before
    refused = upload(client, acme, "bad.csv", BAD_LOG.format(day=2), dry_run=False)
    assert refused.status_code == 400
    keys = ("row", "column", "value", "reason")
    assert [tuple(e[k] for k in keys) for e in checked.json()["errors"]] == [
        tuple(e[k] for k in keys) for e in refused.json()["errors"]
    ]
    assert [(str(e["row"]), e["column"], e["value"]) for e in checked.json()["errors"]] == BAD_CELLS
    assert checked.json()["detail"].startswith("bad.csv: nothing would be imported, 3 error(s) in 3 row(s)")
    assert checked.json()["error_counts"] == refused.json()["error_counts"]


def test_a_dry_run_with_quarantine_counts_the_rows_that_would_land(
    client: TestClient, acme: dict, database_url: str
) -> None:
    before = job_count(database_url)
    checked = client.post(
        "/api/import/csv/?type=sensor_log&dry_run=true&quarantine_invalid=true",
        headers=acme,
        files={"file": ("bad.csv", BAD_LOG.format(day=3).encode(), "text/csv")},
    )

    assert checked.status_code == 200
    assert (checked.json()["status"], checked.json()["rows_imported"], checked.json()["rows_rejected"]) == (
        "PARTIAL", 1, 3,
    )  # fmt: skip
    assert job_count(database_url) == before


def test_a_large_file_is_checked_a_slice_at_a_time_with_the_same_report(
    api_keys: dict, database_url: str, lake_root: str, tmp_path: Path
) -> None:
    """The dry run's sliced path (files above 16 MiB by default; here above 1 byte, 64-byte slices)."""
    lake = Lake(lake_root)

    def both(name: str, content: str) -> tuple:
        path = tmp_path / name
        path.write_text(content)
        checked = {"org_id": "acme", "submitted_by": "test", "dry_run": True}
        whole = FileImporter(database_url, lake).import_file(path, "sensor_log", **checked)
        sliced = FileImporter(database_url, lake, sliced_from_bytes=1, slice_bytes=64).import_file(
            path, "sensor_log", **checked
        )
        return whole, sliced

    whole, sliced = both("bad.csv", BAD_LOG.format(day=7))
    assert sliced.errors == whole.errors and sliced.status == whole.status == "REJECTED"
    assert [(str(e["row"]), e["column"], e["value"]) for e in sliced.errors] == BAD_CELLS

    whole, sliced = both("good.csv", GOOD_LOG.format(day=8))
    assert (sliced.status, sliced.rows_imported) == (whole.status, whole.rows_imported) == ("SUCCESS", 3)

    # Rows imported before are named in both paths: land the file, then check one that repeats a row.
    FileImporter(database_url, lake).import_file(
        tmp_path / "good.csv", "sensor_log", org_id="acme", submitted_by="test"
    )
    repeated = GOOD_LOG.format(day=8) + "2025-05-08T09:00:00Z,MACHINE-A01,temperature,70.0,degC,100\n"
    whole, sliced = both("again.csv", repeated)
    assert sliced.errors == whole.errors
    assert [e["row"] for e in sliced.errors] == [2, 3, 4]
    assert all("already imported" in e["reason"] for e in sliced.errors)


def test_the_page_and_its_files_come_from_the_package(client: TestClient) -> None:
    page = client.get("/import")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '"/import/assets/import.js"' in page.text and '"/import/assets/import.css"' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    script = client.get("/import/assets/import.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "http://" not in script.text and "https://" not in script.text
    assert client.get("/import/assets/import.html").status_code == 404
    assert client.get("/import/assets/..%2Fimports.py").status_code == 404


# --- the page in Chromium ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(api_app: FastAPI) -> Iterator[ServerThread]:
    with ServerThread(api_app) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_browser() as launched:
        yield launched


@pytest.fixture
def offline_page(browser: Browser) -> Iterator[tuple[Page, list[str]]]:
    """A page whose requests to any host but 127.0.0.1 are aborted; yields it and the aborted URLs."""
    blocked: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in {"data", "blob"} or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(url)
            route.abort("internetdisconnected")

    context = browser.new_context(accept_downloads=True, viewport={"width": 1000, "height": 700})
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", only_loopback)
    page = context.new_page()
    yield page, blocked
    context.close()


def open_wizard(page: Page, server: ServerThread, key: str) -> None:
    page.goto(f"{server.base_url}/import")
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#wizard:not([hidden])")


def choose_file(page: Page, name: str, content: str) -> None:
    page.set_input_files("#file", files=[{"name": name, "mimeType": "text/csv", "buffer": content.encode()}])


def screenshot(page: Page, name: str) -> Path:
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_a_good_file_is_checked_confirmed_and_its_job_shown(
    server: ServerThread,
    offline_page: tuple[Page, list[str]],
    api_keys: dict,
    database_url: str,
    lake_root: str,
    tmp_path: Path,
) -> None:
    page, blocked = offline_page
    open_wizard(page, server, api_keys["acme"])
    page.select_option("#import-type", "sensor_log")
    with page.expect_download() as download:
        page.click("#templates button[data-format=csv]")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.read_bytes() == template_path("sensor_log").read_bytes()

    before = job_count(database_url)
    choose_file(page, "sensor_log_may.csv", GOOD_LOG.format(day=4))
    page.click("#check-button")
    page.wait_for_selector("#check-step:not([hidden])")
    assert "3 rows, all valid" in page.inner_text("#check-summary")
    assert page.is_hidden("#bad-rows")
    assert page.inner_text("#confirm-button") == "Import 3 rows"
    assert "Nothing has been imported yet" in page.inner_text("#confirm-hint")
    assert job_count(database_url) == before and import_files(lake_root, "2025-05-04") == []

    page.click("#confirm-button")
    page.wait_for_selector("#result-step:not([hidden])")
    assert page.inner_text("#result-message").startswith("Imported: 3 rows landed")
    job_id = int(page.inner_text('dd[data-fact="Import job"]'))
    assert page.inner_text('dd[data-fact="Status"]') == "SUCCESS"
    assert page.inner_text('dd[data-fact="Days touched (UTC)"]') == "2025-05-04"
    screenshot(page, "import-wizard-result.png")

    with psycopg.connect(database_url) as conn:
        job = conn.execute(
            "SELECT status, rows_imported, file_name FROM import_jobs WHERE job_id = %s", (job_id,)
        ).fetchone()
    assert job == ("SUCCESS", 3, "sensor_log_may.csv")
    assert job_count(database_url) == before + 1
    [landed] = import_files(lake_root, "2025-05-04")
    table = pq.read_table(landed).sort_by("ts")
    assert table.column("value").to_pylist() == [71.5, 71.9, 4.4]
    assert table.column("machine_id").to_pylist() == ["MACHINE-A01", "MACHINE-A01", "MACHINE-A02"]
    assert page.is_disabled("#confirm-button") and page.is_hidden("#confirm-hint")  # one import per check
    assert blocked == []


def test_a_bad_file_lists_every_bad_row_and_lands_nothing(
    server: ServerThread,
    offline_page: tuple[Page, list[str]],
    api_keys: dict,
    database_url: str,
    lake_root: str,
) -> None:
    page, blocked = offline_page
    open_wizard(page, server, api_keys["acme"])
    before = job_count(database_url)
    choose_file(page, "sensor_log_bad.csv", BAD_LOG.format(day=5))
    page.click("#check-button")
    page.wait_for_selector("#bad-rows:not([hidden])")

    cells = page.eval_on_selector_all(
        "#bad-rows tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
    )
    assert [tuple(row[:3]) for row in cells] == BAD_CELLS
    assert all(row[3] for row in cells)  # every row says why
    assert "not a number" in cells[0][3].lower() or "number" in cells[0][3].lower()
    assert "3 bad rows" in page.inner_text("#check-summary")
    assert page.is_disabled("#confirm-button")
    screenshot(page, "import-wizard-bad-file.png")
    assert job_count(database_url) == before
    assert import_files(lake_root, "2025-05-05") == []
    assert blocked == []


def test_a_refused_key_asks_again(server: ServerThread, offline_page: tuple[Page, list[str]]) -> None:
    page, _ = offline_page
    open_wizard(page, server, "oee_not-a-key")
    choose_file(page, "sensor_log.csv", GOOD_LOG.format(day=6))
    page.click("#check-button")
    page.wait_for_selector("#key-form:not([hidden])")
    assert "refused" in (page.text_content("#status") or "")
