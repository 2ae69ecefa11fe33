"""The OData v4 feed: a third-party v4 client (python-odata) and conformance checks of the JSON format.

Seeded by the package conftest: `acme` has 2,978 snapshots (2,880 of MACHINE-A01 in 2025-01-01 ..
2025-01-30, one on each side, and 96 of MACHINE-A02), `globex` has its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from xml.etree import ElementTree

import psycopg
import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from odata import ODataService

from oee_pipelines.simulator.servers.runtime import ServerThread

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
ACME_SNAPSHOTS = 2880 + 2 + 96
JANUARY_FILTER = "snapshot_time ge 2025-01-01T00:00:00Z and snapshot_time lt 2025-01-31T00:00:00Z"


@pytest.fixture(scope="module")
def server(api_app: FastAPI) -> Iterator[ServerThread]:
    with ServerThread(api_app) as running:
        yield running


def follow_pages(client: TestClient, url: str, headers: dict, **params: str) -> tuple[list[dict], int]:
    """Every row of a collection, following `@odata.nextLink` (bounded), and the number of pages."""
    response = client.get(url, params=params, headers=headers)
    rows: list[dict] = []
    for page in range(1, 1000):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["@odata.context"].endswith(f"$metadata#{url.split('/')[-1].split('?')[0]}")
        rows.extend(body["value"])
        if "@odata.nextLink" not in body:
            return rows, page
        response = client.get(body["@odata.nextLink"], headers=headers)
    raise AssertionError("more than 1000 pages")


def test_service_document_lists_every_entity_set(client: TestClient, acme: dict) -> None:
    response = client.get("/odata/", headers=acme)
    assert response.status_code == 200
    assert response.headers["odata-version"] == "4.0"
    body = response.json()
    assert body["@odata.context"] == "http://testserver/odata/$metadata"
    names = {entry["name"] for entry in body["value"]}
    assert {"Snapshots", "Downtime", "ShiftReports", "DataMart", "Machines", "Lines", "Shifts"} <= names


def test_metadata_is_csdl_with_real_types_and_keys(client: TestClient, acme: dict) -> None:
    response = client.get("/odata/$metadata", headers=acme)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ElementTree.fromstring(response.content)
    types = {element.get("Name"): element for element in root.iter(f"{EDM}EntityType")}
    snapshot = types["Snapshot"]
    assert [ref.get("Name") for ref in snapshot.iter(f"{EDM}PropertyRef")] == ["snapshot_id"]
    props = {prop.get("Name"): prop.attrib for prop in snapshot.iter(f"{EDM}Property")}
    assert props["snapshot_time"]["Type"] == "Edm.DateTimeOffset"
    assert props["oee_pct"] == {"Name": "oee_pct", "Type": "Edm.Decimal", "Scale": "variable"}
    assert props["total_pieces"]["Type"] == "Edm.Int32"
    assert props["machine_id"] == {"Name": "machine_id", "Type": "Edm.String", "Nullable": "false"}
    shift_report = {
        prop.get("Name"): prop.get("Type") for prop in types["ShiftReport"].iter(f"{EDM}Property")
    }
    assert shift_report["shift_date"] == "Edm.Date"
    assert {p.get("Name"): p.get("Type") for p in types["Shift"].iter(f"{EDM}Property")}["start_time"] == (
        "Edm.TimeOfDay"
    )
    daily_key = [ref.get("Name") for ref in types["DailyMachineOee"].iter(f"{EDM}PropertyRef")]
    assert daily_key == ["machine_id", "day"]
    sets = {s.get("Name"): s.get("EntityType") for s in root.iter(f"{EDM}EntitySet")}
    assert sets["Snapshots"] == "OEE.Snapshot"


def test_next_link_pages_to_exactly_the_tables_rows_and_count_agrees(client: TestClient, acme: dict) -> None:
    headers = {**acme, "Prefer": "odata.maxpagesize=700"}
    rows, pages = follow_pages(client, "/odata/Snapshots", headers, **{"$count": "true"})
    assert pages == 5  # 2,978 rows in pages of 700
    assert len(rows) == ACME_SNAPSHOTS
    assert len({row["snapshot_id"] for row in rows}) == ACME_SNAPSHOTS
    first = client.get("/odata/Snapshots", params={"$count": "true"}, headers=headers).json()
    assert first["@odata.count"] == ACME_SNAPSHOTS
    count = client.get("/odata/Snapshots/$count", headers=acme)
    assert count.headers["content-type"].startswith("text/plain")
    assert int(count.text) == ACME_SNAPSHOTS
    assert all("B0" not in row["machine_id"] for row in rows)


def test_next_link_keeps_the_api_key_of_a_query_parameter(client: TestClient, api_keys: dict) -> None:
    response = client.get(
        "/odata/Snapshots",
        params={"api_key": api_keys["acme"], "$top": "1500", "$select": "snapshot_id"},
        headers={"Prefer": "odata.maxpagesize=1000"},
    )
    body = response.json()
    assert len(body["value"]) == 1000
    assert f"api_key={api_keys['acme']}" in body["@odata.nextLink"]
    assert "%24top=500" in body["@odata.nextLink"] or "$top=500" in body["@odata.nextLink"]
    rest = client.get(body["@odata.nextLink"]).json()  # no header: the link alone authenticates
    assert len(rest["value"]) == 500
    assert "@odata.nextLink" not in rest


def test_date_filter_equals_the_rest_export_for_the_same_range(client: TestClient, acme: dict) -> None:
    odata_filter = f"{JANUARY_FILTER} and machine_id eq 'MACHINE-A01'"
    rows, _ = follow_pages(
        client, "/odata/Snapshots", {**acme, "Prefer": "odata.maxpagesize=1000"}, **{"$filter": odata_filter}
    )
    export = client.get(
        "/api/oee/export/snapshots",
        params={
            "format": "json",
            "date_from": "2025-01-01",
            "date_to": "2025-01-30",
            "machine_id": "MACHINE-A01",
        },
        headers=acme,
    ).json()
    assert len(rows) == len(export) == 2880
    columns = ("snapshot_time", "machine_id", "machine_name", "oee_pct", "availability_pct", "shift_id")
    assert [tuple(row[c] for c in columns) for row in rows] == [
        tuple(row[c] for c in columns) for row in export
    ]


def test_incremental_refresh_windows_are_half_open(client: TestClient, acme: dict) -> None:
    def count(filter_text: str) -> int:
        return int(client.get("/odata/Snapshots/$count", params={"$filter": filter_text}, headers=acme).text)

    whole = count("snapshot_time ge 2025-01-02T00:00:00Z and snapshot_time lt 2025-01-04T00:00:00Z")
    first = count("snapshot_time ge 2025-01-02T00:00:00Z and snapshot_time lt 2025-01-03T00:00:00Z")
    second = count(
        "snapshot_time ge 2025-01-03T00:00:00.0000000+00:00 and snapshot_time lt 2025-01-04T01:00:00+01:00"
    )
    assert (first, second, whole) == (96, 96, 192)


def test_select_orderby_top_skip(client: TestClient, acme: dict) -> None:
    response = client.get(
        "/odata/Snapshots",
        params={
            "$select": "snapshot_time,oee_pct",
            "$orderby": "oee_pct desc,snapshot_time",
            "$top": "3",
            "$skip": "1",
        },
        headers=acme,
    )
    body = response.json()
    assert body["@odata.context"].endswith("$metadata#Snapshots(snapshot_time,oee_pct)")
    assert [set(row) for row in body["value"]] == [{"snapshot_time", "oee_pct"}] * 3
    values = [row["oee_pct"] for row in body["value"]]
    assert values == sorted(values, reverse=True) and values[0] == 89.049
    assert body["value"][0]["snapshot_time"].endswith("Z")
    assert "@odata.nextLink" not in body


def test_filters_on_other_types(client: TestClient, acme: dict) -> None:
    def values(entity_set: str, filter_text: str, column: str) -> list:
        response = client.get(f"/odata/{entity_set}", params={"$filter": filter_text}, headers=acme)
        assert response.status_code == 200, response.text
        return [row[column] for row in response.json()["value"]]

    assert values("ShiftReports", "shift_date eq 2025-01-02 and status eq 'final'", "oee_pct") == [81.5]
    assert values("Downtime", "is_planned eq false or reason_code eq null", "reason_code") == [
        "BRK-MECH",
        None,
    ]
    assert values("Downtime", "not is_resolved", "reason_code") == ["BREAK"]
    assert values("Machines", "machine_id in ('MACHINE-A02', 'MACHINE-B01')", "name") == ["Capper"]
    assert values("Machines", "contains(name, 'north') or startswith(code, 'C')", "code") == ["F1", "C1"]
    assert values("Shifts", "start_time ge 12:00:00", "name") == ["Late"]
    assert len(values("Snapshots", "year(snapshot_time) eq 2024", "snapshot_id")) == 1
    assert values("Lines", "name eq 'Acme line 2'", "line_id") == ["LINE-A2"]


def test_tenancy_applies_to_every_entity_set(client: TestClient, api_keys: dict) -> None:
    globex = {"X-API-Key": api_keys["globex"]}
    for name in (
        "Snapshots",
        "Downtime",
        "ShiftReports",
        "DataMart",
        "DailyMachineOee",
        "Machines",
        "Lines",
        "Shifts",
    ):
        response = client.get(f"/odata/{name}", params={"$top": "5000"}, headers=globex)
        assert response.status_code == 200, (name, response.text)
        text = response.text
        assert "acme" not in text.lower() and "A0" not in text and "A1" not in text.replace("SHIFT-A1", ""), (
            name
        )
        assert response.json()["value"], name
    sneaky = "machine_id eq 'MACHINE-A01' or machine_id ne 'nothing'"
    response = client.get("/odata/Snapshots/$count", params={"$filter": sneaky}, headers=globex)
    assert int(response.text) == 2880  # globex's own rows only: the org condition is outside the filter


def test_values_never_become_sql(client: TestClient, acme: dict) -> None:
    response = client.get(
        "/odata/Machines", params={"$filter": "name eq 'x'' OR 1=1; DROP TABLE machines; --'"}, headers=acme
    )
    assert response.status_code == 200
    assert response.json()["value"] == []
    assert len(client.get("/odata/Machines", headers=acme).json()["value"]) == 2


@pytest.mark.parametrize(
    ("params", "target", "named"),
    [
        ({"$expand": "machine"}, "$expand", "$expand"),
        ({"$apply": "aggregate(oee_pct with average as x)"}, "$apply", "$apply"),
        ({"$filter": "oee_pct add 1 gt 5"}, "$filter", "arithmetic operator add"),
        ({"$filter": "tolower(machine_id) eq 'x'"}, "$filter", "tolower()"),
        ({"$filter": "speed gt 5"}, "$filter", "'speed'"),
        ({"$filter": "oee_pct gt 'high'"}, "$filter", "oee_pct (Edm.Decimal)"),
        ({"$filter": "snapshot_time gt 2025-02-30T00:00:00Z"}, "$filter", "not a valid value"),
        ({"$filter": "machine_id eq"}, "$filter", "cannot parse"),
        ({"$filter": "oee_pct gt 1e999999"}, "$filter", ""),
        ({"$select": "oee_pct,nope"}, "$select", "'nope'"),
        ({"$orderby": "oee_pct sideways"}, "$orderby", "sideways"),
        ({"$top": "-1"}, "$top", "$top"),
        ({"$count": "maybe"}, "$count", "maybe"),
        ({"$format": "xml"}, "$format", "json"),
        ({"$frobnicate": "1"}, "$frobnicate", "$frobnicate"),
    ],
)
def test_unsupported_constructs_are_400_naming_them(
    client: TestClient, acme: dict, params: dict, target: str, named: str
) -> None:
    response = client.get("/odata/Snapshots", params=params, headers=acme)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["target"] == target
    assert named in error["message"]
    assert error["code"]


def test_missing_key_and_unknown_set_are_odata_errors(client: TestClient, acme: dict) -> None:
    response = client.get("/odata/Snapshots")
    assert response.status_code == 401
    assert "missing API key" in response.json()["error"]["message"]
    response = client.get("/odata/Snapshots", headers={"X-API-Key": "oee_wrong"})
    assert response.status_code == 401
    assert client.get("/odata/$metadata").status_code == 200  # the schema only, the same for everyone
    response = client.get("/odata/Snapshots(1)", headers=acme)
    assert response.status_code == 404
    assert "use $filter" in response.json()["error"]["message"]


def test_daily_machine_oee_is_time_weighted(client: TestClient, acme: dict, database_url: str) -> None:
    # 2025-01-05: 48 windows at 100 % (15 min planned) and 48 poor ones at 5 % (5 min planned).
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """UPDATE oee_snapshots SET
                 planned_production_time = CASE WHEN good THEN 15 ELSE 5 END,
                 actual_production_time = CASE WHEN good THEN 15 ELSE 1 END,
                 ideal_production_time = CASE WHEN good THEN 15 ELSE 0.5 END,
                 total_pieces = CASE WHEN good THEN 10 ELSE 2 END,
                 good_pieces = CASE WHEN good THEN 10 ELSE 1 END
               FROM (SELECT id, row_number() OVER (ORDER BY snapshot_time) % 2 = 0 AS good FROM oee_snapshots
                     WHERE machine_id = 'MACHINE-A01'
                       AND window_start >= '2025-01-05' AND window_start < '2025-01-06'
                    ) AS day_rows
               WHERE oee_snapshots.id = day_rows.id"""
        )
    response = client.get(
        "/odata/DailyMachineOee",
        params={"$filter": "day eq 2025-01-05 and machine_id eq 'MACHINE-A01'"},
        headers=acme,
    )
    [row] = response.json()["value"]
    assert (row["planned_production_time"], row["actual_production_time"], row["total_pieces"]) == (
        960,
        768,
        576,
    )
    assert row["availability_pct"] == pytest.approx(80.0)
    assert row["performance_pct"] == pytest.approx(96.875)
    assert row["quality_pct"] == pytest.approx(528 / 576 * 100)
    assert row["oee_pct"] == pytest.approx(71.0417, abs=1e-4)  # an average of the percentages would be 52.5


def test_python_odata_client_reads_the_feed(server: ServerThread, api_keys: dict) -> None:
    """python-odata (PyPI `python-odata`, an OData v4 client) reflects $metadata and follows nextLink."""
    session = requests.Session()
    session.headers["X-API-Key"] = api_keys["acme"]
    service = ODataService(
        f"{server.base_url}/odata/", reflect_entities=True, session=session, quiet_progress=True
    )
    snapshot = service.entities["Snapshots"]
    query = service.query(snapshot).filter(snapshot.machine_id == "MACHINE-A01")
    query = query.filter(snapshot.snapshot_time >= datetime.fromisoformat("2025-01-01T00:00:00+00:00"))
    query = query.filter(snapshot.snapshot_time < datetime.fromisoformat("2025-01-31T00:00:00+00:00"))
    rows = list(query)
    assert len(rows) == 2880  # one page of 5,000: the server's default
    assert rows[0].snapshot_time == datetime.fromisoformat("2025-01-01T00:00:00+00:00")
    assert rows[-1].machine_name == 'Filler, "north"'
    machines = service.entities["Machines"]
    assert sorted(machine.machine_id for machine in service.query(machines)) == ["MACHINE-A01", "MACHINE-A02"]
