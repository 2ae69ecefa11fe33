"""The OEE dashboard at `/oee/analytics`: its JSON endpoints and the page in headless Chromium.

- `/api/oee/dashboard/summary` and `/trend` over the two-organization warehouse with consistent time
  columns: the time-weighted factors equal sums worked out here from the seeded pattern, the downtime
  Pareto's minutes are clipped to the range, and a key sees only its own organization.
- The page over a real PostgreSQL, the API served by uvicorn with its lifespan (the IoT stream's broker
  client) and a real mosquitto: after picking a filter, the numbers on the page (OEE tile, a line's OEE,
  a machine's availability, the top Pareto reason's minutes, a trend point) equal the API's for the same
  filter; a machine drill-down follows; the live tile shows a reading published to the broker; every
  request stays on loopback (others are blocked and recorded); no horizontal overflow at 1280x800 and
  820x1180. Screenshots go to docs/images/dashboard-1280.png and dashboard-tablet.png.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import orjson
import psycopg
import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route

from oee_pipelines.api.app import create_app
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.connectors.iot.mosquitto import MosquittoBroker
from oee_pipelines.settings import Settings
from oee_pipelines.simulator.mqtt_publisher import MqttPublisher
from oee_pipelines.simulator.servers.runtime import free_port
from oee_pipelines_tests.support.browser import chromium_browser
from oee_pipelines_tests.support.tenant_warehouse import (
    DAY_ONE,
    WINDOW,
)

TIMEOUT_MS = 20_000
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
RANGE = {"date_from": "2025-01-01", "date_to": "2025-01-30"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
# Run minutes per window by machine and shift: the early shift runs longer on MACHINE-A01.
RUN = {("MACHINE-A01", "SHIFT-A1"): 13.5, ("MACHINE-A01", "SHIFT-A2"): 12.0, ("MACHINE-A02", None): 10.5}
IDEAL = {"MACHINE-A01": 11.25, "MACHINE-A02": 8.4}
PIECES = {"MACHINE-A01": (800, 790), "MACHINE-A02": (100, 95)}
TIME_COLUMNS_SQL = """
UPDATE oee_snapshots SET
  scheduled_time = CASE WHEN oee_pct IS NULL THEN 0 ELSE 16 END,
  planned_downtime = CASE WHEN oee_pct IS NULL THEN 0 ELSE 1 END,
  planned_production_time = CASE WHEN oee_pct IS NULL THEN 0 ELSE 15 END,
  actual_production_time = CASE WHEN oee_pct IS NULL THEN 0 WHEN machine_id = 'MACHINE-A02' THEN 10.5
                                WHEN shift_id = 'SHIFT-A1' THEN 13.5 ELSE 12.0 END,
  ideal_production_time = CASE WHEN oee_pct IS NULL THEN 0 WHEN machine_id = 'MACHINE-A01' THEN 11.25
                               ELSE 8.4 END,
  total_pieces = CASE WHEN oee_pct IS NULL THEN 0 WHEN machine_id = 'MACHINE-A01' THEN 800 ELSE 100 END,
  good_pieces = CASE WHEN oee_pct IS NULL THEN 0 WHEN machine_id = 'MACHINE-A01' THEN 790 ELSE 95 END,
  breakdowns_minutes = CASE WHEN oee_pct IS NULL THEN 0 ELSE 1.0 END,
  setup_adjustments_minutes = CASE WHEN oee_pct IS NULL THEN 0 ELSE 0.5 END,
  small_stops_minutes = CASE WHEN oee_pct IS NULL THEN 0 ELSE 0.25 END,
  reduced_speed_minutes = CASE WHEN oee_pct IS NULL THEN NULL ELSE 1.5 END,
  startup_rejects_minutes = CASE WHEN oee_pct IS NULL THEN 0 ELSE 0.125 END,
  production_rejects_minutes = 0
WHERE org_id = 'acme'
"""
# Beside the warehouse's seeded stops (BRK-MECH 20 min and an open planned BREAK on A01, 11 unnamed
# minutes on A02): jams on A01 (21 min, more than its breakdown) and a long breakdown on A02.
STOPS_SQL = """
INSERT INTO reason_codes (org_id, code, category, name, is_planned, loss_category) VALUES
  ('acme', 'BRK-MECH', 'breakdown', 'Mechanical breakdown', false, 'breakdowns'),
  ('acme', 'JAM', 'minor', 'Jam', false, 'small_stops');
INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, end_time, duration_minutes,
                                 is_planned, reason_code, is_resolved, source_system) VALUES
  ('acme', 'MACHINE-A01', 'LINE-A1', '2025-01-05T08:00Z', '2025-01-05T08:07Z', 7, false, 'JAM', true, 'mes'),
  ('acme', 'MACHINE-A01', 'LINE-A1', '2025-01-06T08:00Z', '2025-01-06T08:07Z', 7, false, 'JAM', true, 'mes'),
  ('acme', 'MACHINE-A01', 'LINE-A1', '2025-01-07T08:00Z', '2025-01-07T08:07Z', 7, false, 'JAM', true, 'mes'),
  ('acme', 'MACHINE-A02', 'LINE-A2', '2025-01-01T09:00Z', '2025-01-01T09:45Z', 45, false, 'BRK-MECH', true,
   'mes'),
  ('acme', 'MACHINE-A02', 'LINE-A2', '2025-01-30T23:50Z', '2025-01-31T00:20Z', 30, false, 'JAM', true, 'mes');
INSERT INTO iot_sensors (sensor_id, org_id, sensor_type, machine_id, protocol, mqtt_topic, unit) VALUES
  ('TEMP-A01', 'acme', 'temperature', 'MACHINE-A01', 'MQTT', 'factory/MACHINE-A01/temperature', 'degC');
"""


@dataclass
class Expected:
    planned: float = 0.0
    run: float = 0.0
    ideal: float = 0.0
    total: int = 0
    good: int = 0

    def add_window(self, machine: str, shift: str) -> None:
        self.planned += 15
        self.run += RUN[(machine, shift if machine == "MACHINE-A01" else None)]
        self.ideal += IDEAL[machine]
        self.total += PIECES[machine][0]
        self.good += PIECES[machine][1]

    def factors(self) -> dict[str, float]:
        availability = 100 * self.run / self.planned
        performance = 100 * self.ideal / self.run
        quality = 100 * self.good / self.total
        return {
            "oee": round(availability * performance * quality / 10_000, 1),
            "availability": round(availability, 1),
            "performance": round(performance, 1),
            "quality": round(quality, 1),
        }


def expected_sums(machines: tuple[str, ...]) -> Expected:
    """The seeded pattern over 2025-01-01 .. 30: every tenth window plans nothing; A02 has day one only."""
    sums = Expected()
    for machine in machines:
        for index in range(30 * 96 if machine == "MACHINE-A01" else 96):
            if index % 10 == 0:
                continue
            hour = (DAY_ONE + index * WINDOW).hour
            sums.add_window(machine, "SHIFT-A1" if 6 <= hour < 14 else "SHIFT-A2")
    return sums


@pytest.fixture(scope="module")
def dashboard_data(database_url: str, api_keys: dict[str, str]) -> dict[str, str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(TIME_COLUMNS_SQL)
        conn.execute(STOPS_SQL)
    return api_keys


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path_factory.mktemp("broker"), free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def base_url(
    database_url: str,
    dashboard_data: dict[str, str],
    broker: MosquittoBroker,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The API under uvicorn on loopback with its lifespan on (the IoT stream's broker client)."""
    data_dir = tmp_path_factory.mktemp("data")
    config = data_dir / "connectors.yml"
    config.write_text(yaml.safe_dump({"iot": {"mqtt": {"broker": "127.0.0.1", "port": broker.port}}}))
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_CONFIG_FILE": str(config)})
    app = create_app(
        settings, database_url=database_url, api_settings=ApiSettings(max_range_days=366, pool_max_size=4)
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("the API did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.services.close()


def api_json(base_url: str, key: str, path: str, **params: str) -> dict:
    response = httpx.get(f"{base_url}{path}", params=params, headers={"X-API-Key": key}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


# --- the JSON endpoints ---------------------------------------------------------------------------


def test_summary_is_time_weighted_from_summed_minutes(client: TestClient, dashboard_data: dict) -> None:
    response = client.get(
        "/api/oee/dashboard/summary", params=RANGE, headers={"X-API-Key": dashboard_data["acme"]}
    )
    assert response.status_code == 200, response.text
    summary = response.json()
    both = expected_sums(("MACHINE-A01", "MACHINE-A02"))
    assert {
        k: summary["total"][k] for k in ("oee", "availability", "performance", "quality")
    } == both.factors()
    assert summary["total"]["planned_production_minutes"] == both.planned
    machines = {m["machine_id"]: m for m in summary["machines"]}
    assert set(machines) == {"MACHINE-A01", "MACHINE-A02"}
    assert machines["MACHINE-A02"]["availability"] == 70.0  # 10.5 of 15 minutes
    a01 = expected_sums(("MACHINE-A01",)).factors()
    assert {k: machines["MACHINE-A01"][k] for k in a01} == a01
    # Weighted, not averaged: the total is not the mean of the two machines' availabilities.
    assert summary["total"]["availability"] != round((machines["MACHINE-A01"]["availability"] + 70.0) / 2, 1)
    shifts = {s["shift_id"]: s for s in summary["shifts"]}
    assert shifts["SHIFT-A1"]["availability"] > shifts["SHIFT-A2"]["availability"]

    windows = both.planned / 15
    losses = summary["losses"]
    assert losses["breakdowns_minutes"] == windows * 1.0
    assert losses["planned_stops_minutes"] == windows * 1.0
    assert losses["fully_productive_minutes"] == round(windows * (15 - 1 - 0.5 - 0.25 - 1.5 - 0.125), 1)

    reasons = [(r["reason_code"], r["minutes"]) for r in summary["downtime_reasons"]]
    # A02's breakdown 45 + A01's 20; jams 21 + the 10 minutes of A02's jam before 2025-01-31 00:00.
    assert reasons == [("BRK-MECH", 65.0), ("JAM", 31.0), ("(no reason)", 11.0)]
    assert summary["downtime_reasons"][-1]["cumulative_pct"] == 100.0
    assert [r["reason_code"] for r in summary["planned_stops"]] == ["BREAK"]


def test_summary_and_trend_follow_the_filter_and_the_organization(
    client: TestClient, dashboard_data: dict
) -> None:
    acme = {"X-API-Key": dashboard_data["acme"]}
    one = client.get(
        "/api/oee/dashboard/summary", params={**RANGE, "machine_id": "MACHINE-A01"}, headers=acme
    ).json()
    assert [m["machine_id"] for m in one["machines"]] == ["MACHINE-A01"]
    assert (
        one["downtime_reasons"][0]["reason_code"] == "JAM" and one["downtime_reasons"][0]["minutes"] == 21.0
    )

    trend = client.get(
        "/api/oee/dashboard/trend", params={**RANGE, "grain": "hour", "group_by": "machine"}, headers=acme
    ).json()
    series = {s["id"]: s for s in trend["series"]}
    # Buckets by window start: the snapshot ending 2025-01-01 00:00 (inside the range, as in the exports)
    # is the 23:00 bucket of the day before, where nothing was planned.
    assert len(series["MACHINE-A01"]["points"]) == 1 + 30 * 24 and len(series["MACHINE-A02"]["points"]) == 25
    points = {point["bucket_start"][:16]: point for point in series["MACHINE-A02"]["points"]}
    assert points["2024-12-31T23:00"]["oee"] is None and points["2024-12-31T23:00"]["run_minutes"] == 0
    first_hour = points["2025-01-01T00:00"]
    assert first_hour["planned_production_minutes"] == 60.0 and first_hour["availability"] == 70.0

    globex = {"X-API-Key": dashboard_data["globex"]}
    foreign = client.get(
        "/api/oee/dashboard/summary", params={**RANGE, "machine_id": "MACHINE-A01"}, headers=globex
    )
    assert foreign.status_code == 404 and foreign.json()["parameter"] == "machine_id"
    own = client.get("/api/oee/dashboard/summary", params=RANGE, headers=globex).json()
    assert [m["machine_id"] for m in own["machines"]] == ["MACHINE-B01"]
    assert all("B0" in r["reason_code"] or "Globex" in r["reason_code"] for r in own["downtime_reasons"])

    too_fine = client.get(
        "/api/oee/dashboard/trend",
        params={"date_from": "2025-01-01", "date_to": "2025-03-01", "grain": "15min"},
        headers=acme,
    )
    assert too_fine.status_code == 422 and too_fine.json()["parameter"] == "grain"


# --- the page ---------------------------------------------------------------------------------------


@dataclass
class Traffic:
    blocked: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium_browser() as launched:
        yield launched


def open_page(browser: Browser, width: int, height: int) -> tuple[Page, Traffic]:
    """A page whose every request off loopback is aborted and recorded."""
    traffic = Traffic()
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT_MS)

    def guard(route: Route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            traffic.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("request", lambda request: traffic.requested.append(request.url))
    page.on("websocket", lambda socket: traffic.requested.append(socket.url))
    return page, traffic


def show_range(page: Page, base_url: str, key: str, machine: str = "") -> None:
    page.goto(f"{base_url}/oee/analytics")
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#machine option[value='MACHINE-A01']", state="attached")
    page.evaluate(
        """([from, to, machine]) => {
             document.querySelector('#date-from').value = from;
             document.querySelector('#machine').value = machine;
             const to_ = document.querySelector('#date-to');
             to_.value = to;
             to_.dispatchEvent(new Event('change'));
           }""",
        [RANGE["date_from"], RANGE["date_to"], machine],
    )
    wait_for_dashboard(page, 1 if machine else 2)


def wait_for_dashboard(page: Page, machines: int) -> None:
    page.wait_for_function(
        """(machines) => document.querySelector('#dashboard').getAttribute('aria-busy') === 'false'
             && document.querySelectorAll('#machine-table tbody tr').length === machines""",
        arg=machines,
    )


def cell(page: Page, kind: str, ident: str, field_name: str) -> str:
    return page.inner_text(f"#{kind}-table td[data-{kind}='{ident}'][data-field='{field_name}']")


def no_horizontal_overflow(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def assert_loopback_only(traffic: Traffic) -> None:
    assert traffic.blocked == []
    assert traffic.requested and all(urlparse(url).hostname in LOOPBACK for url in traffic.requested)


def test_dashboard_shows_the_apis_numbers_for_the_chosen_filter(
    base_url: str, browser: Browser, dashboard_data: dict, broker: MosquittoBroker
) -> None:
    key = dashboard_data["acme"]
    page, traffic = open_page(browser, 1280, 800)
    show_range(page, base_url, key)
    summary = api_json(base_url, key, "/api/oee/dashboard/summary", **RANGE)

    assert page.inner_text("#kpi-oee .value") == f"{summary['total']['oee']:.1f} %"
    line = next(item for item in summary["lines"] if item["line_id"] == "LINE-A1")
    assert cell(page, "line", "LINE-A1", "oee") == f"{line['oee']:.1f}"
    assert (
        f"Acme line 1 OEE: {line['oee']:.1f} %" in page.locator("#chart svg rect title").all_text_contents()
    )
    a02 = next(item for item in summary["machines"] if item["machine_id"] == "MACHINE-A02")
    assert cell(page, "machine", "MACHINE-A02", "availability") == f"{a02['availability']:.1f}" == "70.0"
    top = summary["downtime_reasons"][0]
    assert page.inner_text("#pareto-top") == f"Mechanical breakdown: {top['minutes']:.1f} min"
    trend = api_json(base_url, key, "/api/oee/dashboard/trend", **RANGE, grain="day", group_by="line")
    drawn = page.evaluate(
        "echarts.getInstanceByDom(document.querySelector('#trend-chart')).getOption().series"
        ".map((s) => ({name: s.name, first: s.data[0], count: s.data.length}))"
    )
    assert drawn == [
        {
            "name": series["name"],
            "first": [series["points"][0]["bucket_start"], series["points"][0]["oee"]],
            "count": len(series["points"]),
        }
        for series in trend["series"]
    ]
    assert no_horizontal_overflow(page)

    # The live tile: a reading published to the broker reaches the page through the API's WebSocket.
    page.wait_for_selector("#live-state.ok")
    with MqttPublisher("127.0.0.1", broker.port, client_id="test-dashboard-publisher") as publisher:
        for value in range(1, 101):
            payload = orjson.dumps(
                {"sensor_id": "TEMP-A01", "temperature": value + 0.5, "timestamp": "2025-01-13T10:00:00Z"}
            )
            publisher.publish([("factory/MACHINE-A01/temperature", payload, 1)])
            if page.get_attribute("#live-value", "data-sensor") == "TEMP-A01":
                break
            page.wait_for_timeout(100)
    page.wait_for_selector("#live-value[data-sensor='TEMP-A01']")
    assert page.inner_text("#live-value").endswith("(temperature)")
    page.screenshot(path=str(IMAGES / "dashboard-1280.png"), full_page=True)

    # Drill down into a machine from its row: every panel follows, and still shows the API's numbers.
    page.click("#machine-table tr[data-machine='MACHINE-A01']")
    wait_for_dashboard(page, 1)
    assert page.input_value("#machine") == "MACHINE-A01" and page.is_visible("#drill")
    one = api_json(base_url, key, "/api/oee/dashboard/summary", **RANGE, machine_id="MACHINE-A01")
    assert page.inner_text("#kpi-availability .value") == f"{one['total']['availability']:.1f} %"
    assert page.inner_text("#pareto-top") == f"Jam: {one['downtime_reasons'][0]['minutes']:.1f} min"
    assert_loopback_only(traffic)
    page.context.close()


def test_dashboard_fits_a_tablet(base_url: str, browser: Browser, dashboard_data: dict) -> None:
    page, traffic = open_page(browser, 820, 1180)
    show_range(page, base_url, dashboard_data["acme"])
    assert no_horizontal_overflow(page)
    boxes = page.evaluate(
        "['#controls', '#kpis', '#trend-chart', '#pareto-chart', '#machine-panel']"
        ".map((s) => document.querySelector(s).getBoundingClientRect().right)"
    )
    assert max(boxes) <= 820
    page.screenshot(path=str(IMAGES / "dashboard-tablet.png"), full_page=True)
    assert_loopback_only(traffic)
    page.context.close()


def test_dashboard_vendor_library_is_served_from_the_package(client: TestClient) -> None:
    response = client.get("/oee/analytics/vendor/echarts.min.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert b"Apache Software Foundation" in response.content[:2000]
    assert "/oee/analytics/vendor/echarts.min.js" in client.get("/oee/analytics").text
