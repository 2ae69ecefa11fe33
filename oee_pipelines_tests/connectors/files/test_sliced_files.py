"""Large files of any encoding and workbooks read a slice at a time (`open_in_slices`): the encoding is
decided on a bounded sample exactly as the whole-file reader decides it (the same refusals), the text
is transcoded to UTF-8 in chunks into a temporary file removed afterwards, and the slices together are
the rows, row numbers and cells the whole-file reader gives."""

# ruff: noqa: RUF001  (the texts hold en dashes and full-width parentheses on purpose)

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from oee_pipelines.connectors.files import UnreadableFileError, encodings, read_import_file
from oee_pipelines.connectors.files.slices import open_in_slices

HEADER = "start_timestamp,end_timestamp,machine_id,line_id,reason_code,description,operator_id"
POLISH = "Zażółć gęślą jaźń – łożysko"
FRENCH = "Arrêt planifié : réglage de la tête – œuvre"
JAPANESE = "ベルトコンベアの故障（モーター過熱）"


def stops(description: str, count: int) -> str:
    rows = [
        f"2025-01-14T08:{n % 60:02d}:00Z,2025-01-14T09:00:00Z,MACHINE-001,,BRK-MECH,{description} {n},OP-{n}"
        for n in range(count)
    ]
    return "\n".join([HEADER, *rows]) + "\n"


def whole_and_sliced(path: Path, encoding: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frame (with row numbers) the whole reader gives, and the slices' frames concatenated."""
    whole = read_import_file(path, encoding=encoding)
    sliced = open_in_slices(path, encoding=encoding, from_bytes=0, xlsx_from_bytes=0, slice_bytes=512)
    assert sliced is not None
    with sliced:
        parts = list(sliced.slices())
    assert len(parts) > 3
    assert all(part.details == whole.details for part in parts)

    def numbered(frame: pd.DataFrame, rows: object) -> pd.DataFrame:
        return frame.assign(row=rows).reset_index(drop=True)

    return (
        numbered(whole.frame, whole.row_numbers),
        pd.concat([numbered(part.frame, part.row_numbers) for part in parts], ignore_index=True),
    )


@pytest.mark.parametrize(
    ("text", "encoding", "named"),
    [
        (POLISH, "cp1250", None),
        (POLISH, "cp1250", "windows-1250"),
        (POLISH + " " + JAPANESE, "utf-16", None),
        # Named: detection reads 60 lines of this text as cp1256, whole or sliced alike (see the report).
        (JAPANESE, "shift_jis", "shift_jis"),
        (POLISH, "utf-8-sig", None),
    ],
)
def test_a_transcoded_file_reads_as_the_whole_reader_reads_it(
    text: str, encoding: str, named: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "stops.csv"
    path.write_bytes(stops(text, 60).encode(encoding))

    whole, sliced = whole_and_sliced(path, named)

    pd.testing.assert_frame_equal(whole, sliced)
    assert sliced["description"][59] == f"{text} 59"


def test_the_temporary_utf8_copy_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "stops.csv"
    path.write_bytes(stops(POLISH, 20).encode("cp1250"))
    sliced = open_in_slices(path, from_bytes=0, slice_bytes=512)
    assert sliced is not None
    copy = sliced._temporary
    assert copy is not None and copy.exists()
    assert "łożysko" in copy.read_text(encoding="utf-8")

    sliced.close()

    assert not copy.exists()


def test_the_encoding_is_decided_on_the_same_sample_as_a_whole_file(tmp_path: Path) -> None:
    # More lines with non-ASCII bytes than the sample holds: Polish first, then a letter that
    # Windows-1250 and Windows-1252 read differently only far beyond the sample.
    text = stops(POLISH, 6_000) + stops("Größe", 10)
    path = tmp_path / "stops.csv"
    data = text.encode("cp1250", errors="replace")
    path.write_bytes(data)

    assert encodings.file_codec(path, path.name) == ("cp1250", "cp1250")
    assert encodings.decode(data, path.name)[1] == "cp1250"


def test_an_ambiguous_file_is_refused_with_the_same_message(tmp_path: Path) -> None:
    path = tmp_path / "stops.csv"
    path.write_bytes(stops(FRENCH, 40).encode("cp1252"))

    with pytest.raises(UnreadableFileError) as whole:
        read_import_file(path)
    with pytest.raises(UnreadableFileError) as sliced:
        open_in_slices(path, from_bytes=0)

    assert sliced.value.reason == whole.value.reason
    assert "cp1250 ('Arręt'), cp1252 ('Arrêt')" in sliced.value.reason


def test_a_byte_the_named_encoding_cannot_read_is_refused_at_its_offset(tmp_path: Path) -> None:
    # Past the first chunk the transcoder reads, and past a multi-byte character split by it.
    data = stops(JAPANESE, 30_000).encode("shift_jis")
    offset = len(data) - 100
    path = tmp_path / "stops.csv"
    path.write_bytes(data[:offset] + b"\x81\x20" + data[offset + 2 :])

    with pytest.raises(UnreadableFileError) as whole:
        read_import_file(path, encoding="shift_jis")
    with pytest.raises(UnreadableFileError) as sliced:
        open_in_slices(path, encoding="shift_jis", from_bytes=0)

    assert len(data) > 1024 * 1024
    assert sliced.value.reason == whole.value.reason
    assert f"at offset {offset}" in sliced.value.reason


def test_binary_content_is_refused_as_a_whole_file_is(tmp_path: Path) -> None:
    path = tmp_path / "stops.csv"
    path.write_bytes(b"\x01\x02\x03\x04\x05 not text \x06\x07\xe9" * 10_000)

    for named in (None, "cp1250"):
        with pytest.raises(UnreadableFileError) as whole:
            read_import_file(path, encoding=named)
        with pytest.raises(UnreadableFileError) as sliced:
            open_in_slices(path, encoding=named, from_bytes=0)
        assert sliced.value.reason == whole.value.reason

    assert sliced.value.reason == "this is a binary file, not a CSV text file"


def test_a_workbook_streams_in_slices_as_it_reads_whole(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["machine_id", "start", "end", "state", None, "reason_code"])
    for n in range(50):
        if n % 7 == 3:
            sheet.append([None, None, None])  # a blank row, dropped but counted
        sheet.append([f"MACHINE-{n % 3}", 45000.25 + n, None, "RUNNING" if n % 2 else 3.0, None, "=A1"])
    path = tmp_path / "states.xlsx"
    workbook.save(path)

    whole, sliced = whole_and_sliced(path)

    pd.testing.assert_frame_equal(whole, sliced)
    # 50 rows and 7 blank ones from row 2: the last is row 58.
    assert len(sliced) == 50 and sliced["row"].iloc[-1] == 58 and sliced["reason_code"][0] == "=A1"
