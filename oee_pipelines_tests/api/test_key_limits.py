"""Per-key rate limits (429 + Retry-After), key use and refusals in /metrics, expiring keys, and
`oee api-key list` showing scope, last use, expiry and status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from oee_pipelines.api.app import create_app
from oee_pipelines.api.auth import create_api_key
from oee_pipelines.api.settings import ApiSettings
from oee_pipelines.cli import main
from oee_pipelines.observability.exposition import sample_value
from oee_pipelines.settings import ConfigError, Settings

SNAPSHOTS = "/api/oee/export/snapshots"
ONE_DAY = {"date_from": "2025-01-01", "date_to": "2025-01-01", "machine_id": "MACHINE-A02", "format": "json"}
LIMIT = 3  # per hour: no test runs long enough for a counted request to leave the window


@pytest.fixture(scope="module")
def limited(
    database_url: str, api_keys: dict[str, str], lake_root: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The API over the two-tenant warehouse with `OEE_API_RATE_LIMIT=3/hour`."""
    data_dir: Path = tmp_path_factory.mktemp("data")
    settings = Settings.from_env({"OEE_DATA_DIR": str(data_dir), "OEE_LAKE_ROOT": lake_root})
    api_settings = ApiSettings.from_env({"OEE_API_RATE_LIMIT": f"{LIMIT}/hour", "OEE_API_POOL_SIZE": "2"})
    app: FastAPI = create_app(settings, database_url=database_url, api_settings=api_settings)
    yield TestClient(app)
    app.state.services.close()


def new_key(database_url: str, name: str, scope: str = "admin") -> tuple[int, str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return create_api_key(conn, "acme", name, scope)


def metrics(client: TestClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.text


def test_a_key_over_its_limit_gets_429_with_retry_after_and_other_keys_do_not(
    limited: TestClient, database_url: str
) -> None:
    busy_id, busy = new_key(database_url, "busy dashboard")
    quiet_id, quiet = new_key(database_url, "quiet dashboard", scope="read")
    before = metrics(limited)

    answers = [limited.get(SNAPSHOTS, params=ONE_DAY, headers={"X-API-Key": busy}) for _ in range(LIMIT + 1)]
    assert [answer.status_code for answer in answers] == [200] * LIMIT + [429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 3600
    assert refused.json()["parameter"] == "X-API-Key"
    assert "rate limit (3 per 1 hour)" in refused.json()["detail"]
    assert f"retry in {refused.headers['retry-after']} s" in refused.json()["detail"]
    # The same key sent another way is the same key; the OData feed answers in its own error format.
    as_bearer = limited.get(SNAPSHOTS, params=ONE_DAY, headers={"Authorization": f"Bearer {busy}"})
    assert as_bearer.status_code == 429
    odata = limited.get("/odata/", headers={"X-API-Key": busy})
    assert odata.status_code == 429 and "retry-after" in odata.headers
    assert odata.json()["error"]["code"] == "TooManyRequests"

    other = limited.get(SNAPSHOTS, params=ONE_DAY, headers={"X-API-Key": quiet})
    assert other.status_code == 200 and len(other.json()) == 96

    after = metrics(limited)

    def moved(name: str, **labels: str) -> float:
        return sample_value(after, name, **labels) - sample_value(before, name, **labels)

    accepted = "oee_api_key_requests_total"
    assert moved(accepted, key_id=str(busy_id), organization="acme", scope="admin") == LIMIT
    assert moved(accepted, key_id=str(quiet_id), organization="acme", scope="read") == 1
    refusals = "oee_api_key_refusals_total"
    assert moved(refusals, reason="rate_limited", key_id=str(busy_id)) == 3
    assert moved(refusals, reason="rate_limited", key_id=str(quiet_id)) == 0
    assert busy not in after and busy[:12] not in after  # neither the key nor its prefix is a label


def test_every_refusal_reason_is_counted(
    limited: TestClient, database_url: str, api_keys: dict[str, str]
) -> None:
    expiring_id, expiring = new_key(database_url, "contractor")
    reader_id, reader = new_key(database_url, "read-only BI", scope="read")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE api_keys SET expires_at = '2025-06-30T12:00:00Z' WHERE id = %s", (expiring_id,))
    before = metrics(limited)

    missing = limited.get(SNAPSHOTS, params=ONE_DAY)
    invalid = limited.get(SNAPSHOTS, params=ONE_DAY, headers={"X-API-Key": "oee_not-a-key"})
    revoked = limited.get(SNAPSHOTS, params=ONE_DAY, headers={"X-API-Key": api_keys["revoked"]})
    expired = limited.get(SNAPSHOTS, params=ONE_DAY, headers={"X-API-Key": expiring})
    scope = limited.put("/api/plant/model", content="organization: {}", headers={"X-API-Key": reader})
    assert [r.status_code for r in (missing, invalid, revoked, expired, scope)] == [401, 401, 401, 401, 403]
    assert expired.json()["detail"] == (
        "X-API-Key: this API key expired at 2025-06-30 12:00:00 UTC; ask for a new one (oee api-key create)"
    )
    assert revoked.json()["detail"] == "X-API-Key: unknown or revoked API key"

    after = metrics(limited)

    def moved(**labels: str) -> float:
        name = "oee_api_key_refusals_total"
        return sample_value(after, name, **labels) - sample_value(before, name, **labels)

    assert moved(reason="missing") == 1
    assert moved(reason="invalid") == 1
    assert moved(reason="revoked") == 1
    assert moved(reason="expired", key_id=str(expiring_id)) == 1
    assert moved(reason="scope", key_id=str(reader_id)) == 1
    assert moved(reason="rate_limited") == 0
    assert sample_value(after, "oee_api_key_requests_total", key_id=str(expiring_id)) == 0


def test_without_a_rate_limit_no_key_is_limited(client: TestClient, api_keys: dict[str, str]) -> None:
    assert ApiSettings.from_env({}).rate_limit is None
    assert ApiSettings.from_env({"OEE_API_RATE_LIMIT": " "}).rate_limit is None
    assert client.app.state.services.rate_limiter is None  # type: ignore[attr-defined]
    statuses = {client.get("/odata/", headers={"X-API-Key": api_keys["acme"]}).status_code for _ in range(12)}
    assert statuses == {200}


@pytest.mark.parametrize("value", ["lots", "600", "600/fortnight", "-1/minute", "0/minute"])
def test_an_unreadable_rate_limit_is_a_config_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match=r"OEE_API_RATE_LIMIT: .* is not a rate limit such as '600/minute'"):
        ApiSettings.from_env({"OEE_API_RATE_LIMIT": value})
    assert ApiSettings.from_env({"OEE_API_RATE_LIMIT": "600/minute;20/second"}).rate_limit is not None


def test_last_use_is_written_at_most_once_a_minute(client: TestClient, database_url: str) -> None:
    key_id, key = new_key(database_url, "last use")

    def last_used() -> datetime | None:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT last_used_at FROM api_keys WHERE id = %s", (key_id,)).fetchone()
        assert row is not None
        return row[0]

    def set_last_used(ago: timedelta) -> datetime:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute(
                "UPDATE api_keys SET last_used_at = now() - %s WHERE id = %s RETURNING last_used_at",
                (ago, key_id),
            ).fetchone()
        assert row is not None
        return row[0]

    assert last_used() is None
    assert client.get("/odata/", headers={"X-API-Key": key}).status_code == 200
    assert last_used() is not None
    recent = set_last_used(timedelta(seconds=30))
    assert client.get("/odata/", headers={"X-API-Key": key}).status_code == 200
    assert last_used() == recent  # written less than a minute ago: not written again
    stale = set_last_used(timedelta(minutes=2))
    assert client.get("/odata/", headers={"X-API-Key": key}).status_code == 200
    used = last_used()
    assert used is not None and used > stale


def listing_rows(output: str) -> dict[str, dict[str, str]]:
    """`oee api-key list` output as {prefix: {column: value}}, cut at the header's column starts."""
    header, *lines = output.splitlines()
    names = ["prefix", "name", "scope", "created (UTC)", "last used (UTC)", "expires (UTC)", "status"]
    starts = [header.index(name) for name in names] + [None]
    rows = {}
    for line in lines:
        cells = {
            name: line[start:end].strip()
            for name, start, end in zip(names, starts[:-1], starts[1:], strict=True)
        }
        rows[cells["prefix"]] = cells
    return rows


def test_cli_lists_scope_last_use_expiry_and_status(
    client: TestClient,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OEE_DATABASE_URL", database_url)
    read_key_args = ["--name", "finance BI", "--scope", "read", "--expires-in-days", "30"]
    assert main(["api-key", "create", "--org", "acme", *read_key_args]) == 0
    created = capsys.readouterr()
    reader = created.out.strip()
    assert "created read API key" in created.err and "valid until" in created.err
    assert main(["api-key", "create", "--org", "acme", "--name", "ops admin"]) == 0
    admin = capsys.readouterr().out.strip()
    assert client.get("/odata/", headers={"X-API-Key": reader}).status_code == 200
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT expires_at, last_used_at FROM api_keys WHERE key_prefix = %s", (reader[:12],)
        ).fetchone()
        assert row is not None
        expires_at, last_used_at = row
        lapsed_id, lapsed = create_api_key(conn, "acme", "lapsed")
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 day' WHERE id = %s", (lapsed_id,))
    assert timedelta(days=29, hours=23) < expires_at - datetime.now(UTC) <= timedelta(days=30)

    assert main(["api-key", "list", "--org", "acme"]) == 0
    rows = listing_rows(capsys.readouterr().out)
    assert rows[reader[:12]] == {
        "prefix": reader[:12],
        "name": "finance BI",
        "scope": "read",
        "created (UTC)": rows[reader[:12]]["created (UTC)"],
        "last used (UTC)": f"{last_used_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        "expires (UTC)": f"{expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        "status": "active",
    }
    assert rows[admin[:12]]["scope"] == "admin"
    assert rows[admin[:12]]["last used (UTC)"] == "-"
    assert rows[admin[:12]]["expires (UTC)"] == "never"
    assert rows[lapsed[:12]]["status"] == "expired"
    revoked = [row for row in rows.values() if row["name"] == "old laptop"]
    assert len(revoked) == 1 and revoked[0]["status"].startswith("revoked 20")
    assert reader not in str(rows) and admin not in str(rows)


def test_cli_refuses_an_expiry_that_is_not_a_positive_number_of_days(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OEE_DATABASE_URL", database_url)
    with pytest.raises(SystemExit) as exited:
        main(["api-key", "create", "--org", "acme", "--name", "x", "--expires-in-days", "0"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--expires-in-days: must be a whole number of days from 1" in captured.err
