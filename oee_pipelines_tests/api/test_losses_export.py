"""The loss tree through the API: `GET /api/oee/export/losses` (and the seed's URL) and OData `Losses`.

Rows are literal (`support/loss_rows.py`): acme's shift of 2025-01-02 adds up to 480 minutes; globex has
one row of its own that acme must never see.
"""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from oee_pipelines.exports.columns import LOSSES
from oee_pipelines_tests.support.loss_rows import ACME_DAY_ONE_MINUTES, insert_loss_rows
from oee_pipelines_tests.support.tenant_warehouse import FOREIGN_MARKERS

DAY_ONE = {"date_from": "2025-01-02", "date_to": "2025-01-02"}


@pytest.fixture(scope="module", autouse=True)
def loss_rows(database_url: str, api_keys: dict[str, str]) -> None:
    insert_loss_rows(database_url)  # after the tenant warehouse was seeded (api_keys)


def rows_of(response_text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response_text)))


def test_acme_gets_its_loss_tree_in_the_export_columns(client: TestClient, acme: dict[str, str]) -> None:
    response = client.get("/api/oee/export/losses", params=DAY_ONE, headers=acme)
    assert response.status_code == 200, response.text
    rows = rows_of(response.text)
    assert list(rows[0]) == LOSSES.column_names
    assert [row["loss_category"] for row in rows] == [
        "fully_productive",
        "breakdowns",
        "setup_adjustments",
        "small_stops",
        "reduced_speed",
        "startup_rejects",
        "production_rejects",
        "unknown",
    ]
    assert sum(float(row["minutes"]) for row in rows) == ACME_DAY_ONE_MINUTES
    breakdown = rows[1]
    assert (breakdown["reason_code"], breakdown["reason_category"], breakdown["occurrences"]) == (
        "BRK-MECH",
        "Breakdown",
        "1",
    )
    assert breakdown["machine_name"] == 'Filler, "north"' and breakdown["shift_date"] == "2025-01-02"
    for marker in FOREIGN_MARKERS:
        assert marker not in response.text


def test_days_filters_and_formats(client: TestClient, acme: dict[str, str]) -> None:
    two_days = {"date_from": "2025-01-02", "date_to": "2025-01-03"}
    both = rows_of(client.get("/api/oee/export/losses", params=two_days, headers=acme).text)
    assert {row["day"] for row in both} == {"2025-01-02", "2025-01-03"}
    only = {**two_days, "loss_category": "breakdowns", "line_id": "LINE-A2"}
    filtered = rows_of(client.get("/api/oee/export/losses", params=only, headers=acme).text)
    assert [(r["machine_id"], r["reason_code"], r["minutes"]) for r in filtered] == [
        ("MACHINE-A02", "BRK-ELEC", "7")
    ]
    # A datetime `date_to` is exclusive: the days whose midnight lies in [from, to).
    half = {"date_from": "2025-01-02T00:00:00Z", "date_to": "2025-01-03T00:00:00Z"}
    assert {
        r["day"] for r in rows_of(client.get("/api/oee/export/losses", params=half, headers=acme).text)
    } == {"2025-01-02"}
    parquet = client.get("/api/oee/export/losses", params={**DAY_ONE, "format": "parquet"}, headers=acme)
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.schema.names == LOSSES.column_names and table.num_rows == 8
    assert sum(table.column("minutes").to_pylist()) == ACME_DAY_ONE_MINUTES
    data = json.loads(
        client.get("/api/oee/export/losses", params={**DAY_ONE, "format": "json"}, headers=acme).text
    )
    assert len(data) == 8
    bad = client.get("/api/oee/export/losses", params={**DAY_ONE, "loss_category": "coffee"}, headers=acme)
    assert bad.status_code == 422


def test_tenancy_and_the_seeds_url(
    client: TestClient, api_keys: dict[str, str], acme: dict[str, str]
) -> None:
    foreign = client.get(
        "/api/oee/export/losses", params={**DAY_ONE, "machine_id": "MACHINE-B01"}, headers=acme
    )
    assert foreign.status_code == 404 and foreign.json()["parameter"] == "machine_id"
    globex = client.get("/api/oee/export/losses", params=DAY_ONE, headers={"X-API-Key": api_keys["globex"]})
    assert [r["reason_code"] for r in rows_of(globex.text)] == ["Globex-STOP"]
    assert "MACHINE-A0" not in globex.text
    seed = client.get("/oee/export/losses", params=DAY_ONE, headers=acme)
    assert (
        seed.status_code == 200
        and seed.content == client.get("/api/oee/export/losses", params=DAY_ONE, headers=acme).content
    )
    assert client.get("/api/oee/export/losses", params=DAY_ONE).status_code == 401


def test_odata_losses_entity_set(client: TestClient, acme: dict[str, str], api_keys: dict[str, str]) -> None:
    metadata = client.get("/odata/$metadata", headers=acme)
    assert 'EntitySet Name="Losses"' in metadata.text and 'EntityType Name="Loss"' in metadata.text
    body = client.get("/odata/Losses", headers=acme).json()
    rows = body["value"]
    assert len(rows) == 9 and {row["machine_id"] for row in rows} == {"MACHINE-A01", "MACHINE-A02"}
    day_one = client.get(
        "/odata/Losses", params={"$filter": "day eq 2025-01-02 and machine_id eq 'MACHINE-A01'"}, headers=acme
    ).json()["value"]
    assert sum(row["minutes"] for row in day_one) == ACME_DAY_ONE_MINUTES
    stops = client.get(
        "/odata/Losses",
        params={
            "$filter": "oee_factor eq 'availability'",
            "$select": "reason_code,minutes",
            "$orderby": "minutes",
        },
        headers=acme,
    ).json()["value"]
    assert [(row["reason_code"], row["minutes"]) for row in stops] == [
        ("BRK-ELEC", 7),
        ("ADJUST", 15),
        ("BRK-MECH", 20),
    ]
    globex = client.get("/odata/Losses", headers={"X-API-Key": api_keys["globex"]}).json()["value"]
    assert [row["reason_code"] for row in globex] == ["Globex-STOP"]
