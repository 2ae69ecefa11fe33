"""Import endpoints: templates, CSV and Excel uploads through the one landing path, and hostile uploads
(a 1 GB stream, `../` names, empty and binary files, formulas), against the API's two-organization
warehouse and a real server on loopback for the streaming limit."""

from __future__ import annotations

import io
import select
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import Workbook
from openpyxl.styles import PatternFill

from oee_pipelines.api.imports import UploadSettings, get_upload_settings
from oee_pipelines.connectors.files import template_path
from oee_pipelines.simulator.servers.runtime import ServerThread

SENSOR_LOG = """timestamp,machine_id,sensor_type,value,unit,quality
2025-03-01T{hour}:00:00Z,MACHINE-A01,temperature,75.5,degC,100
2025-03-01T{hour}:01:00Z,MACHINE-A02,pressure,4.2,bar,
"""
BAD_SENSOR_LOG = """timestamp,machine_id,sensor_type,value,unit,quality
2025-03-02T10:00:00Z,MACHINE-A01,temperature,"75,6",degC,100
2025-03-02T10:01:00Z,MACHINE-B01,temperature,75.7,degC,100
yesterday,MACHINE-A01,temperature,75.8,degC,100
"""
SMALL_LIMIT = 1024 * 1024
CHUNK = 64 * 1024
GIGABYTE = 1024 * 1024 * 1024
YELLOW = PatternFill("solid", start_color="FFFF00", end_color="FFFF00")


@pytest.fixture(scope="module", autouse=True)
def reason_codes(api_keys: dict[str, str], database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO reason_codes (org_id, code, category, name, is_planned, loss_category) "
            "VALUES ('acme', 'BRK-MECH', 'breakdown', 'Breakdown', false, 'breakdowns')"
        )


def rows(database_url: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(statement, params).fetchall()


def upload(
    client: TestClient,
    headers: dict,
    name: str,
    content: bytes,
    kind: str = "sensor_log",
    endpoint: str = "csv",
):
    return client.post(
        f"/api/import/{endpoint}/?type={kind}", headers=headers, files={"file": (name, content, "text/csv")}
    )


@pytest.mark.parametrize("kind", ["sensor_log", "downtime", "schedule"])
def test_templates_download_as_shipped(client: TestClient, acme: dict, kind: str) -> None:
    response = client.get(f"/api/import/template/?type={kind}", headers=acme)

    assert response.status_code == 200
    assert response.content == template_path(kind).read_bytes()
    assert template_path(kind).name in response.headers["content-disposition"]


def test_template_needs_a_known_type_and_a_key(client: TestClient, acme: dict) -> None:
    assert client.get("/api/import/template/?type=recipes", headers=acme).status_code == 422
    assert client.get("/api/import/template/?type=sensor_log").status_code == 401


def test_a_good_csv_lands_and_answers_with_counts(
    client: TestClient, acme: dict, database_url: str, lake_root: str
) -> None:
    response = upload(client, acme, "sensor_log_march.csv", SENSOR_LOG.format(hour=10).encode())

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["rows_read"], body["rows_imported"], body["rows_rejected"]) == (
        "SUCCESS",
        2,
        2,
        0,
    )
    assert (
        Path(lake_root) / f"telemetry/source=import/date=2025-03-01/import-{body['job_id']}.parquet"
    ).is_file()
    [(org, who)] = rows(
        database_url, "SELECT org_id, submitted_by FROM import_jobs WHERE job_id = %s", (body["job_id"],)
    )
    assert org == "acme" and "acme BI" in who


def test_the_same_file_again_answers_409_naming_the_first_import(client: TestClient, acme: dict) -> None:
    content = SENSOR_LOG.format(hour=11).encode()
    first = upload(client, acme, "a.csv", content).json()
    again = upload(client, acme, "b.csv", content)

    assert again.status_code == 409
    assert again.json()["duplicate_of_job"] == first["job_id"]


def test_bad_rows_answer_400_with_every_error_and_land_nothing(
    client: TestClient, acme: dict, database_url: str
) -> None:
    response = upload(client, acme, "sensor_log_bad.csv", BAD_SENSOR_LOG.encode())

    assert response.status_code == 400
    body = response.json()
    # MACHINE-B01 belongs to the other organization: unknown to this key.
    assert [(e["row"], e["column"], e["value"]) for e in body["errors"]] == [
        (2, "value", "75,6"),
        (3, "machine_id", "MACHINE-B01"),
        (4, "timestamp", "yesterday"),
    ]
    assert body["detail"].startswith("sensor_log_bad.csv: nothing imported, 3 error(s)")
    [(status,)] = rows(database_url, "SELECT status FROM import_jobs WHERE job_id = %s", (body["job_id"],))
    assert status == "REJECTED"


def test_a_path_in_the_file_name_is_dropped(client: TestClient, acme: dict, database_url: str) -> None:
    response = upload(client, acme, "../../../etc/sensor_log_path.csv", SENSOR_LOG.format(hour=12).encode())

    assert response.status_code == 200
    assert response.json()["file_name"] == "sensor_log_path.csv"
    assert rows(
        database_url, "SELECT file_name FROM import_jobs WHERE job_id = %s", (response.json()["job_id"],)
    ) == [("sensor_log_path.csv",)]
    assert upload(client, acme, "../..", b"x").status_code == 400


def test_empty_binary_and_mislabelled_files_answer_a_clear_400(client: TestClient, acme: dict) -> None:
    empty = upload(client, acme, "empty.csv", b"")
    binary = upload(client, acme, "image.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    workbook_as_csv = upload(client, acme, "stops.xlsx", SENSOR_LOG.encode())

    assert (empty.status_code, binary.status_code, workbook_as_csv.status_code) == (400, 400, 400)
    assert "empty" in empty.json()["detail"]
    assert "PNG image" in binary.json()["detail"]
    assert ".csv" in workbook_as_csv.json()["detail"]


def excel_like_downtime() -> bytes:
    """A workbook laid out as Excel saves one: styled empty cells beyond the data, serial dates with a
    date format, and a formula someone typed into the description."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        ["start_timestamp", "end_timestamp", "machine_id", "line_id", "reason_code", "description", None]
    )
    sheet.cell(row=1, column=8).fill = YELLOW
    # 45717.4166... is 2025-03-01 10:00 (plant-local, the site is UTC).
    sheet.append([45717 + 10 / 24, 45717 + 10.5 / 24, "MACHINE-A01", None, "BRK-MECH", "=cmd|' /C calc'!A0"])
    sheet.append(
        [datetime(2025, 3, 1, 12), datetime(2025, 3, 1, 12, 15), "MACHINE-A02", "LINE-A2", "BRK-MECH", "+1+2"]
    )
    for row in (2, 3):
        sheet.cell(row=row, column=1).number_format = "dd/mm/yyyy hh:mm"
        sheet.cell(row=row, column=2).number_format = "yyyy-mm-dd hh:mm"
    for row in range(4, 9):
        sheet.cell(row=row, column=1).fill = YELLOW
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_an_excel_workbook_lands_with_formulas_stored_as_text(
    client: TestClient, acme: dict, database_url: str
) -> None:
    response = upload(
        client, acme, "stops week 9.xlsx", excel_like_downtime(), kind="downtime", endpoint="excel"
    )

    assert response.status_code == 200, response.text
    assert response.json()["rows_imported"] == 2
    stored = rows(
        database_url,
        "SELECT start_time, line_id, description, source_ref FROM oee_downtime_events "
        "WHERE source_system = 'import' ORDER BY start_time",
    )
    assert [(ts.isoformat(), line, text, ref) for ts, line, text, ref in stored] == [
        ("2025-03-01T10:00:00+00:00", "LINE-A1", "=cmd|' /C calc'!A0", "stops week 9.xlsx"),
        ("2025-03-01T12:00:00+00:00", "LINE-A2", "+1+2", "stops week 9.xlsx"),
    ]


def gigabyte_of_sensor_log(consumed: list[int]) -> Iterator[bytes]:
    """A 1 GB multipart body, made chunk by chunk; `consumed` counts what was taken."""
    head = (
        b'--B\r\nContent-Disposition: form-data; name="file"; filename="sensor_log_huge.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\ntimestamp,machine_id,sensor_type,value\r\n"
    )
    line = b"2025-03-03T10:00:00Z,MACHINE-A01,temperature,75.5\r\n"
    chunk = line * (CHUNK // len(line))
    yield head
    consumed[0] += len(head)
    while consumed[0] < GIGABYTE:
        yield chunk
        consumed[0] += len(chunk)


def post_streaming(
    base: tuple[str, int], key: str, body: Iterator[bytes], extra_header: str = ""
) -> tuple[int, bytes]:
    """POST a chunked body, stopping as soon as the server answers (as a browser does)."""
    head = (
        "POST /api/import/csv/?type=sensor_log HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-API-Key: {key}\r\nContent-Type: multipart/form-data; boundary=B\r\n{extra_header}\r\n"
    )
    with socket.create_connection(base, timeout=30) as sock:
        sock.sendall(head.encode())
        for chunk in body:
            if select.select([sock], [], [], 0)[0]:
                break
            try:
                sock.sendall(
                    b"%x\r\n%s\r\n" % (len(chunk), chunk)
                    if not extra_header.startswith("Content-Length")
                    else chunk
                )
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        while b"\r\n\r\n" not in answer:
            received = sock.recv(65536)
            if not received:
                break
            answer += received
    return int(answer.split(b" ", 2)[1]), answer


@pytest.fixture
def small_upload_limit(api_app: FastAPI) -> Iterator[None]:
    api_app.dependency_overrides[get_upload_settings] = lambda: UploadSettings(max_bytes=SMALL_LIMIT)
    yield
    api_app.dependency_overrides.pop(get_upload_settings)


def test_a_1_gb_upload_is_refused_at_the_limit_without_being_read(
    api_app: FastAPI, api_keys: dict[str, str], database_url: str, small_upload_limit: None
) -> None:
    consumed = [0]
    jobs_before = rows(database_url, "SELECT count(*) FROM import_jobs")
    with ServerThread(api_app) as server:
        status, answer = post_streaming(
            (server.host, server.port),
            api_keys["acme"],
            gigabyte_of_sensor_log(consumed),
            "Transfer-Encoding: chunked\r\n",
        )
        # A declared length over the limit is refused before any byte of the body is read.
        declared_status, _ = post_streaming(
            (server.host, server.port), api_keys["acme"], iter([]), f"Content-Length: {GIGABYTE}\r\n"
        )

    assert status == 413 and b"limit" in answer
    assert declared_status == 413
    # The server stopped after the limit plus what the socket buffers held: nowhere near 1 GB.
    assert SMALL_LIMIT < consumed[0] < 64 * 1024 * 1024
    assert rows(database_url, "SELECT count(*) FROM import_jobs") == jobs_before


STATE_LOG = """machine_id,start,end,state,reason_code
MACHINE-A01,2025-04-01T06:00:00Z,2025-04-01T06:10:00Z,RUNNING,
MACHINE-A01,2025-04-01T06:10:00Z,2025-04-01T06:20:00Z,STOPPED,BRK-MECH
"""
BAD_STATE_LOG = """machine_id,start,end,state,reason_code
MACHINE-A01,2025-04-02T06:00:00Z,2025-04-02T07:00:00Z,RUNNING,
MACHINE-A01,2025-04-02T06:30:00Z,2025-04-02T06:40:00Z,STOPPED,JAM
MACHINE-B01,2025-04-02T06:00:00Z,2025-04-02T05:00:00Z,RUNNING,
"""


@pytest.mark.parametrize(
    ("kind", "file_format"), [("machine_state_log", "xlsx"), ("production_count", "csv")]
)
def test_state_log_and_count_templates_download_in_either_format(
    client: TestClient, acme: dict, kind: str, file_format: str
) -> None:
    response = client.get(f"/api/import/template/?type={kind}&format={file_format}", headers=acme)

    assert response.status_code == 200
    assert response.content == template_path(kind, file_format).read_bytes()  # type: ignore[arg-type]
    assert client.get("/api/import/template/?type=downtime&format=csv", headers=acme).status_code == 404


def test_a_machine_state_log_lands_as_machine_state_telemetry(
    client: TestClient, acme: dict, lake_root: str
) -> None:
    response = upload(client, acme, "states.csv", STATE_LOG.encode(), kind="machine_state_log")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["rows_read"], body["rows_imported"], body["rows_rejected"]) == (
        "SUCCESS",
        2,
        2,
        0,
    )
    landed = pq.read_table(
        Path(lake_root) / f"telemetry/source=import/date=2025-04-01/import-{body['job_id']}.parquet"
    )
    assert set(landed.column("signal").to_pylist()) == {"machine_state"}
    # 06:00 and 06:10 changes, a repeat every minute between, the end mark at 06:20.
    assert landed.num_rows == 21


def test_a_bad_machine_state_log_names_every_bad_row(client: TestClient, acme: dict) -> None:
    response = upload(client, acme, "bad_states.csv", BAD_STATE_LOG.encode(), kind="machine_state_log")

    assert response.status_code == 400
    errors = [(error["row"], error["column"], error["reason"]) for error in response.json()["errors"]]
    assert errors == [
        (3, "start", "overlaps the state of the same machine in row 2"),
        (3, "reason_code", "unknown reason code (codes are case-sensitive)"),
        (4, "machine_id", "unknown machine"),
        (4, "end", "must be after start"),
    ]


def test_an_upload_names_its_encoding_or_is_refused_when_it_could_be_read_two_ways(
    client: TestClient, acme: dict
) -> None:
    content = SENSOR_LOG.format(hour=21).replace("degC", "Gerät für Tête").encode("cp1252")

    refused = upload(client, acme, "tete.csv", content)
    named = client.post(
        "/api/import/csv/?type=sensor_log&encoding=cp1252",
        headers=acme,
        files={"file": ("tete.csv", content, "text/csv")},
    )
    bad_name = client.post(
        "/api/import/csv/?type=sensor_log&encoding=cp%201252",
        headers=acme,
        files={"file": ("tete.csv", content, "text/csv")},
    )

    assert refused.status_code == 400 and "cannot tell the file's encoding" in refused.json()["detail"]
    assert named.status_code == 200, named.text
    assert bad_name.status_code == 422
