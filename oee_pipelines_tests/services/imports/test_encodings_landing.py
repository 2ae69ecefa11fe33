"""Encodings through the import service: a Windows-1250 downtime file stores its Polish text exactly,
an encoding is named by parameter or by an `@<encoding>` marker in the file name, and a file that
reads differently in two encodings is refused with nothing landed."""

# ruff: noqa: RUF001  (the Polish text holds an en dash on purpose)

from __future__ import annotations

from pathlib import Path

import psycopg

from oee_pipelines.cli import main
from oee_pipelines.services.imports import FileImporter
from oee_pipelines.services.imports.service import encoding_in_name

POLISH = "Zażółć gęślą jaźń – łożysko"
FRENCH = "Arrêt planifié : réglage de la tête – œuvre"
HEADER = "start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id"


def stops(description: str, hour: int = 8) -> str:
    start, end = f"2025-01-14T{hour:02}:15:00Z", f"2025-01-14T{hour:02}:42:00Z"
    return f"{HEADER}\n{start},{end},MACHINE-A01,,BRK-MECH,{description},\n"


def descriptions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT description FROM oee_downtime_events ORDER BY start_time").fetchall()
    return [row[0] for row in rows]


def test_a_windows_1250_file_stores_its_polish_text_exactly(
    importer: FileImporter, tmp_path: Path, plant_database: str
) -> None:
    path = tmp_path / "downtime.csv"
    path.write_bytes(stops(POLISH).encode("cp1250"))

    outcome = importer.import_file(path, "downtime", org_id="acme", submitted_by="test")

    assert outcome.status == "SUCCESS", outcome.errors
    assert descriptions(plant_database) == [POLISH]


def test_an_ambiguous_file_is_refused_then_lands_once_its_encoding_is_named(
    importer: FileImporter, tmp_path: Path, plant_database: str
) -> None:
    path = tmp_path / "downtime.csv"
    path.write_bytes(stops(FRENCH).encode("cp1252"))

    refused = importer.import_file(path, "downtime", org_id="acme", submitted_by="test")
    named = importer.import_file(path, "downtime", org_id="acme", submitted_by="test", encoding="cp1252")

    assert refused.status == "REJECTED" and refused.rows_imported == 0
    assert "cp1250 ('Arręt'), cp1252 ('Arrêt')" in refused.errors[0]["reason"]
    assert named.status == "SUCCESS"
    assert descriptions(plant_database) == [FRENCH]


def test_the_inbox_names_an_encoding_before_the_extension(
    importer: FileImporter, tmp_path: Path, plant_database: str
) -> None:
    path = tmp_path / "downtime_week3@cp1252.csv"
    path.write_bytes(stops(FRENCH, hour=9).encode("cp1252"))

    outcome = importer.import_file(path, "downtime", org_id="acme", submitted_by="inbox")

    assert outcome.status == "SUCCESS", outcome.errors
    assert descriptions(plant_database) == [FRENCH]
    assert encoding_in_name("stops@windows-1250.csv") == "windows-1250"
    assert encoding_in_name("report@home.csv") is None  # not an encoding: part of the name
    assert encoding_in_name("stops.csv") is None


def test_oee_import_takes_an_encoding(plant_database: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("OEE_DATABASE_URL", plant_database)
    monkeypatch.setenv("OEE_DATA_DIR", str(tmp_path / "data"))
    path = tmp_path / "downtime.csv"
    path.write_bytes(stops(FRENCH).encode("cp1252"))

    refused = main(["import", str(path), "--type", "downtime", "--org", "acme"])
    landed = main(["import", str(path), "--type", "downtime", "--org", "acme", "--encoding", "cp1252"])

    assert (refused, landed) == (1, 0)
    assert "cannot tell the file's encoding" in capsys.readouterr().out
    assert descriptions(plant_database) == [FRENCH]
