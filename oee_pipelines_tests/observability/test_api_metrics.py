"""The API's /metrics: requests by route template and status, latency, rows exported, all moving."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from oee_pipelines.observability.exposition import UNMATCHED_ROUTE, sample_value

SNAPSHOTS_ROUTE = "/api/oee/export/snapshots"
THIRTY_DAYS = {"date_from": "2025-01-01", "date_to": "2025-01-30", "machine_id": "MACHINE-A01"}


def test_requests_latency_and_exported_rows_are_counted(
    api_server: tuple[str, str], scrape: Callable[[str], str]
) -> None:
    base_url, key = api_server
    before = scrape(f"{base_url}/metrics")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        exported = client.get(
            SNAPSHOTS_ROUTE, params={"format": "csv", **THIRTY_DAYS}, headers={"X-API-Key": key}
        )
        refused = client.get(SNAPSHOTS_ROUTE, params={"format": "csv", **THIRTY_DAYS})
        missing = client.get("/no/such/path/12345")
    assert (exported.status_code, refused.status_code, missing.status_code) == (200, 401, 404)
    after = scrape(f"{base_url}/metrics")

    def moved(name: str, **labels: str) -> float:
        return sample_value(after, name, **labels) - sample_value(before, name, **labels)

    assert moved("oee_api_requests_total", route=SNAPSHOTS_ROUTE, status="200", method="GET") == 1
    assert moved("oee_api_requests_total", route=SNAPSHOTS_ROUTE, status="401") == 1
    assert moved("oee_api_requests_total", route=UNMATCHED_ROUTE, status="404") == 1
    assert "/no/such/path/12345" not in after  # raw paths never become labels
    assert moved("oee_api_request_duration_seconds_count", route=SNAPSHOTS_ROUTE) == 2
    assert moved("oee_api_request_duration_seconds_sum", route=SNAPSHOTS_ROUTE) > 0
    assert moved("oee_rows_exported_total", table="snapshots", format="csv") == 2880
