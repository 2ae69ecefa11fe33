"""CSV encodings: every file lands its text exactly or is refused naming the candidates; none mangled."""

# ruff: noqa: RUF001  (the texts hold en dashes and full-width parentheses on purpose)

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from oee_pipelines.connectors.files import UnreadableFileError, read_import_file

WriteFile = Callable[[str, bytes], Path]
HEADER = "start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id"
POLISH = "Zażółć gęślą jaźń – łożysko"
CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy"
GERMAN = "Größere Störung am Förderband – Müller"
FRENCH = "Arrêt planifié : réglage de la tête – œuvre"
JAPANESE = "ベルトコンベアの故障（モーター過熱）"


def downtime_csv(description: str) -> str:
    return f"{HEADER}\n2025-01-14T08:15:00Z,2025-01-14T08:42:00Z,MACHINE-001,,BRK-MECH,{description},OP-1\n"


@pytest.mark.parametrize(
    ("text", "encoding", "bom"),
    [
        (POLISH, "cp1250", b""),
        (CZECH, "cp1250", b""),
        (GERMAN, "cp1252", b""),
        (FRENCH, "cp1252", b""),
        (POLISH, "utf-8", b""),
        (POLISH, "utf-8", b"\xef\xbb\xbf"),
        (POLISH + " " + JAPANESE, "utf-16", b""),  # Python's utf-16 writes the BOM
        (JAPANESE, "shift_jis", b""),
    ],
)
def test_each_encoding_lands_its_text_exactly_or_is_refused(
    write_file: WriteFile, text: str, encoding: str, bom: bytes
) -> None:
    path = write_file("stops.csv", bom + downtime_csv(text).encode(encoding))

    try:
        sheet = read_import_file(path)
    except UnreadableFileError as refused:
        assert "cannot tell the file's encoding" in refused.reason
        assert "--encoding" in refused.reason
        return
    assert sheet.frame.loc[0, "description"] == text


@pytest.mark.parametrize(
    ("text", "encoding"), [(POLISH, "cp1250"), (CZECH, "cp1250"), (GERMAN, "cp1252"), (JAPANESE, "shift_jis")]
)
def test_detection_reads_the_common_cases_itself(write_file: WriteFile, text: str, encoding: str) -> None:
    sheet = read_import_file(write_file("stops.csv", downtime_csv(text).encode(encoding)))

    assert sheet.frame.loc[0, "description"] == text
    assert sheet.details["encoding"] in {encoding, "cp932"}  # cp932 is Windows' Shift-JIS


def test_an_ambiguous_file_is_refused_naming_the_candidates_and_where_they_differ(
    write_file: WriteFile,
) -> None:
    path = write_file("stops.csv", downtime_csv(FRENCH).encode("cp1252"))

    with pytest.raises(UnreadableFileError) as refused:
        read_import_file(path)

    assert "cp1252 ('Arrêt')" in refused.value.reason
    assert "cp1250 ('Arręt')" in refused.value.reason


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(FRENCH, "cp1252"), (FRENCH, "windows-1252"), (POLISH, "cp1250"), (CZECH, "iso-8859-2")],
)
def test_a_named_encoding_is_used_as_named(write_file: WriteFile, text: str, encoding: str) -> None:
    path = write_file("stops.csv", downtime_csv(text).encode(encoding))

    sheet = read_import_file(path, encoding=encoding)

    assert sheet.frame.loc[0, "description"] == text
    assert sheet.details["encoding"] == encoding


def test_a_named_encoding_that_does_not_fit_is_refused_not_mangled(write_file: WriteFile) -> None:
    path = write_file("stops.csv", downtime_csv(POLISH).encode("cp1250"))

    with pytest.raises(UnreadableFileError, match="not utf-8: byte 0x"):
        read_import_file(path, encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="unknown encoding 'klingon'"):
        read_import_file(path, encoding="klingon")


KOREAN = "베어링 고장 - 교체 작업자 확인"
JAPANESE_STOP = "ベアリングの故障 - 交換"


@pytest.mark.parametrize(
    ("text", "encoding", "reported"),
    [(JAPANESE_STOP, "shift_jis", {"shift_jis", "cp932"}), (KOREAN, "cp949", {"cp949", "euc_kr"})],
)
@pytest.mark.parametrize("rows", [3, 50, 2_000])
def test_east_asian_files_of_many_rows_are_read_as_written(
    write_file: WriteFile, text: str, encoding: str, reported: set[str], rows: int
) -> None:
    """Shift-JIS katakana are valid cp949 bytes (rare Hangul of its extension), and over many rows
    charset-normalizer prefers cp949: the reading with rare Hangul loses to the Japanese one."""
    lines = [HEADER] + [
        f"2025-01-14T08:{minute % 60:02d}:00Z,2025-01-14T08:{minute % 60:02d}:30Z,MACHINE-{minute:04d},,"
        f"BRK-MECH,{text},OP-1"
        for minute in range(rows)
    ]
    sheet = read_import_file(write_file("stops.csv", ("\n".join(lines) + "\n").encode(encoding)))

    assert set(sheet.frame["description"]) == {text}
    assert sheet.details["encoding"] in reported
