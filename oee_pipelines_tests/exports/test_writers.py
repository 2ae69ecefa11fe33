"""The streaming writers on small literal tables: what each format holds, and that they stream."""

from __future__ import annotations

import csv
import io
import itertools
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import openpyxl
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from oee_pipelines.exports import writers
from oee_pipelines.exports.columns import SHIFT_REPORTS, TELEMETRY, Column, ExportTable, Kind
from oee_pipelines.exports.writers import ExportFormat, export_stream, iso_timestamps


def shift_report_batch(rows: int = 3) -> pa.RecordBatch:
    values: dict[str, list] = {column.name: [None] * rows for column in SHIFT_REPORTS.columns}
    values["shift_date"] = [date(2025, 1, 2)] * rows
    values["shift_id"] = ["SHIFT-1"] * rows
    values["line_name"] = ['Line "one", east'] * rows
    values["shift_start"] = [datetime(2025, 1, 2, 6, tzinfo=UTC)] * rows
    values["total_pieces"] = list(range(rows))
    values["oee_pct"] = [81.25] + [None] * (rows - 1)
    values["status"] = ["final"] * rows
    return pa.RecordBatch.from_pydict(values, schema=SHIFT_REPORTS.arrow_schema)


def collect(
    export_format: ExportFormat, table: ExportTable, batches: list[pa.RecordBatch], **options: bool
) -> bytes:
    return b"".join(export_stream(export_format, table, batches, **options))


def test_iso_timestamps_are_utc_with_a_z() -> None:
    stamps = pa.array(
        [datetime(2025, 1, 15, 0, 15, 30, 123456, tzinfo=UTC), None], pa.timestamp("us", tz="UTC")
    )
    assert iso_timestamps(stamps, "s").to_pylist() == ["2025-01-15T00:15:30Z", None]
    assert iso_timestamps(stamps, "ms").to_pylist() == ["2025-01-15T00:15:30.123Z", None]


def test_csv_holds_header_nulls_quotes_and_dates() -> None:
    rows = list(
        csv.reader(io.StringIO(collect(ExportFormat.CSV, SHIFT_REPORTS, [shift_report_batch()]).decode()))
    )
    assert rows[0] == SHIFT_REPORTS.column_names
    record = dict(zip(rows[0], rows[1], strict=True))
    assert record["shift_date"] == "2025-01-02" and record["shift_start"] == "2025-01-02T06:00:00Z"
    assert (
        record["line_name"] == 'Line "one", east'
        and record["oee_pct"] == "81.25"
        and record["shift_end"] == ""
    )
    assert len(rows) == 4


def test_csv_of_no_rows_is_just_the_header_and_can_leave_it_out() -> None:
    assert collect(ExportFormat.CSV, SHIFT_REPORTS, []).decode().strip().split(",")[0] == '"shift_date"'
    assert collect(ExportFormat.CSV, SHIFT_REPORTS, [], include_headers=False) == b""


def test_json_is_one_array_across_batches() -> None:
    rows = orjson.loads(
        collect(ExportFormat.JSON, SHIFT_REPORTS, [shift_report_batch(2), shift_report_batch(1)])
    )
    assert len(rows) == 3 and rows[0]["shift_start"] == "2025-01-02T06:00:00Z" and rows[0]["oee_pct"] == 81.25
    assert rows[1]["oee_pct"] is None and rows[0]["shift_date"] == "2025-01-02"
    assert orjson.loads(collect(ExportFormat.JSON, SHIFT_REPORTS, [])) == []


def test_parquet_keeps_the_types() -> None:
    table = pq.read_table(io.BytesIO(collect(ExportFormat.PARQUET, SHIFT_REPORTS, [shift_report_batch()])))
    assert table.schema == SHIFT_REPORTS.arrow_schema
    assert table.column("shift_start")[0].as_py() == datetime(2025, 1, 2, 6, tzinfo=UTC)
    assert pq.read_table(io.BytesIO(collect(ExportFormat.PARQUET, SHIFT_REPORTS, []))).num_rows == 0


def endless_batches(consumed: list[int]) -> Iterator[pa.RecordBatch]:
    for index in itertools.count():
        consumed.append(index)
        yield TELEMETRY.conform(
            pa.RecordBatch.from_pydict(
                {
                    "ts": pa.array([datetime(2025, 1, 1, tzinfo=UTC)] * 1000, pa.timestamp("us", tz="UTC")),
                    "machine_id": ["M"] * 1000,
                    "signal": ["temperature"] * 1000,
                    "value": [1.5] * 1000,
                    "text_value": [None] * 1000,
                    "unit": ["C"] * 1000,
                    "quality": [100] * 1000,
                    "source_system": ["test"] * 1000,
                }
            )
        )


@pytest.mark.parametrize("export_format", [ExportFormat.CSV, ExportFormat.JSON, ExportFormat.PARQUET])
def test_writers_yield_before_reading_everything(export_format: ExportFormat) -> None:
    consumed: list[int] = []
    chunks = export_stream(export_format, TELEMETRY, endless_batches(consumed))
    first_chunks = list(itertools.islice(chunks, 3))
    assert all(first_chunks)
    assert len(consumed) <= 3 * (writers.PARQUET_ROW_GROUP_ROWS // 1000 + 1)


def test_xlsx_is_formatted_and_refuses_more_rows_than_a_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    workbook = openpyxl.load_workbook(
        io.BytesIO(collect(ExportFormat.XLSX, SHIFT_REPORTS, [shift_report_batch()]))
    )
    sheet = workbook.active
    assert sheet.title == "OEE_Shift_Reports"
    assert [cell.value for cell in sheet[1]] == SHIFT_REPORTS.column_names
    assert sheet["A2"].value == datetime(2025, 1, 2) and sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet["P2"].value == pytest.approx(0.8125) and sheet["P2"].number_format == "0.000%"
    assert sheet["P3"].value is None
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:R4"
    monkeypatch.setattr(writers, "XLSX_MAX_DATA_ROWS", 2)
    with pytest.raises(writers.TooManyRowsForSheetError):
        collect(ExportFormat.XLSX, SHIFT_REPORTS, [shift_report_batch()])


HOSTILE = [f'{trigger}HYPERLINK("http://evil.example")' for trigger in writers.FORMULA_TRIGGERS]


def hostile_batch() -> pa.RecordBatch:
    values: dict[str, list] = {column.name: [None] * (len(HOSTILE) + 2) for column in SHIFT_REPORTS.columns}
    values["line_name"] = [*HOSTILE, "Line = one", None]
    values["total_pieces"] = [-5] * (len(HOSTILE) + 2)
    return pa.RecordBatch.from_pydict(values, schema=SHIFT_REPORTS.arrow_schema)


def test_csv_prefixes_text_that_a_spreadsheet_would_run_with_a_quote() -> None:
    rows = list(
        csv.DictReader(io.StringIO(collect(ExportFormat.CSV, SHIFT_REPORTS, [hostile_batch()]).decode()))
    )
    assert [row["line_name"] for row in rows] == [*("'" + text for text in HOSTILE), "Line = one", ""]
    assert {row["total_pieces"] for row in rows} == {"-5"}  # numbers are numbers, not text


def test_xlsx_writes_such_text_as_strings_and_json_keeps_it() -> None:
    sheet = openpyxl.load_workbook(
        io.BytesIO(collect(ExportFormat.XLSX, SHIFT_REPORTS, [hostile_batch()]))
    ).active
    cells = [sheet.cell(row=row, column=5) for row in range(2, 2 + len(HOSTILE))]
    # xlsxwriter stores a carriage return as the OOXML escape _x000D_, which Excel decodes and openpyxl keeps.
    assert [cell.value.replace("_x000D_", "\r") for cell in cells] == HOSTILE
    assert {cell.data_type for cell in cells} == {"s"}
    rows = orjson.loads(collect(ExportFormat.JSON, SHIFT_REPORTS, [hostile_batch()]))
    assert [row["line_name"] for row in rows[: len(HOSTILE)]] == HOSTILE


# The JSON writer builds its text column by column in Arrow; `orjson.dumps` of the rows as dicts is what
# it replaced, so every byte must match it, including for the values Arrow spells differently.
EDGE_FLOATS = [0.0, -0.0, 15.0, 81.25, 1e-5, 9.99e-6, 1e-7, 123456789012.5, 999999999999999.9, 1e15, 1e16,
               1e300, 5e-324, -1.5e-5, float("nan"), float("inf"), float("-inf"), None]  # fmt: skip
EDGE_TEXT = ["plain", 'a "quote"', "back\\slash", "bell\x07", "new\nline", "", None, "é ü 漢 \u2028",
             "tab\t", "\x7f", "=1+1", "/slash/", "x", "y", "z", "w", "v", "u"]  # fmt: skip
EDGE = ExportTable(
    key="edge",
    file_title="Edge",
    columns=(
        Column("number", Kind.NUMBER), Column("pct", Kind.PERCENT), Column("count", Kind.INTEGER),
        Column("flag", Kind.BOOLEAN), Column("day", Kind.DATE), Column("label", Kind.TEXT),
        Column("at", Kind.TIMESTAMP),
    ),
)  # fmt: skip


def edge_batch() -> pa.RecordBatch:
    rows = len(EDGE_FLOATS)
    return pa.RecordBatch.from_pydict(
        {
            "number": EDGE_FLOATS,
            "pct": EDGE_FLOATS[::-1],
            "count": [-(2**63), 2**63 - 1, None, *range(rows - 3)],
            "flag": [True, False, None] * (rows // 3),
            "day": [date(1, 1, 1), date(999, 12, 31), date(9999, 12, 31), None, date(2025, 1, 2), None] * 3,
            "label": EDGE_TEXT,
            "at": [datetime(2025, 1, 15, 0, 15, 30, tzinfo=UTC), None] * (rows // 2),
        },
        schema=EDGE.arrow_schema,
    )


def orjson_reference(table: ExportTable, batches: list[pa.RecordBatch]) -> bytes:
    rows = [row for batch in batches for row in writers._with_text_timestamps(table, batch).to_pylist()]
    return orjson.dumps(rows)


@pytest.mark.parametrize(
    "batches",
    [
        pytest.param(lambda: [edge_batch()], id="edge values"),
        pytest.param(lambda: [edge_batch().slice(3, 9), edge_batch().slice(0, 0), edge_batch()], id="sliced"),
        pytest.param(lambda: [edge_batch().slice(10, 3)], id="a slice from the middle"),
        pytest.param(lambda: [shift_report_batch(5), hostile_batch()], id="shift reports"),
    ],
)
def test_json_is_byte_for_byte_what_orjson_writes(batches: Any) -> None:
    made = batches()
    table = SHIFT_REPORTS if made[0].schema == SHIFT_REPORTS.arrow_schema else EDGE
    assert collect(ExportFormat.JSON, table, made) == orjson_reference(table, made)


def test_json_numbers_match_orjson_over_many_random_doubles() -> None:
    rng = np.random.default_rng(19)
    values = np.concatenate(
        [
            10 ** rng.uniform(-8, 18, 20_000) * rng.choice([-1, 1], 20_000),
            np.round(rng.uniform(0, 1000, 20_000), 3),
            rng.integers(0, 2**63, 20_000, dtype=np.uint64).view(np.float64),  # any bit pattern
        ]
    )
    table = ExportTable(key="floats", file_title="Floats", columns=(Column("value", Kind.NUMBER),))
    batch = pa.RecordBatch.from_arrays([pa.array(values)], schema=table.arrow_schema)
    assert collect(ExportFormat.JSON, table, [batch]) == orjson_reference(table, [batch])


def test_csv_formula_check_leaves_safe_text_alone_and_agrees_with_the_regex() -> None:
    rng = np.random.default_rng(7)
    alphabet = np.array(list("ab=+-@\t\r 'é"))
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 4))) for _ in range(2_000)]
    array = pa.array([None if index % 17 == 0 else text for index, text in enumerate(texts)])
    expected = [
        None if text is None else ("'" + text if text[:1] in writers.FORMULA_TRIGGERS else text)
        for text in array.to_pylist()
    ]
    assert writers.neutralise_formulas(array).to_pylist() == expected
    assert writers.neutralise_formulas(array.slice(5, 100)).to_pylist() == expected[5:105]
    safe = pa.array(["Line 1", "a=b", None, ""])
    assert writers.neutralise_formulas(safe) is safe  # nothing to prefix: the column is not copied


def test_json_of_a_big_batch_is_written_a_slice_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "JSON_ROWS_PER_CHUNK", 4)
    batch = edge_batch()
    chunks = list(export_stream(ExportFormat.JSON, EDGE, [batch]))
    assert len(chunks) == -(-batch.num_rows // 4) + 1  # the slices, then the closing bracket
    assert b"".join(chunks) == orjson_reference(EDGE, [batch])


def no_null_batch(rows: int = 40) -> pa.RecordBatch:
    """Columns without nulls: their quotes (and a whole float column's `.0`) go into the text between
    columns instead of into a copy of the column; the other columns keep their nulls."""
    return pa.RecordBatch.from_pydict(
        {
            "number": [float(n) for n in range(rows)],  # all whole: `.0` after each
            "pct": [1e16 if n % 7 == 0 else 2.0 for n in range(rows)],  # whole, some in exponent notation
            "count": list(range(rows)),
            "flag": [n % 2 == 0 for n in range(rows)],
            "day": [date(2025, 1, 1 + n % 28) for n in range(rows)],
            "label": [f"Line {n}" for n in range(rows)],
            "at": [datetime(2025, 1, 15, n % 24, tzinfo=UTC) for n in range(rows)],
        },
        schema=EDGE.arrow_schema,
    )


@pytest.mark.parametrize("rows_per_chunk", [1, 4, 7, 1000])
def test_json_joins_and_cuts_batches_into_slices_and_keeps_every_byte(
    monkeypatch: pytest.MonkeyPatch, rows_per_chunk: int
) -> None:
    monkeypatch.setattr(writers, "JSON_ROWS_PER_CHUNK", rows_per_chunk)
    batches = [
        no_null_batch().slice(0, 3), edge_batch().slice(0, 0), edge_batch(), no_null_batch(),
        edge_batch().slice(5, 2), no_null_batch().slice(11, 5),
    ]  # fmt: skip
    chunks = list(export_stream(ExportFormat.JSON, EDGE, batches))
    rows = sum(batch.num_rows for batch in batches)
    assert len(chunks) == -(-rows // rows_per_chunk) + 1  # slices of `rows_per_chunk`, then the bracket
    assert b"".join(chunks) == orjson_reference(EDGE, batches)


def test_json_of_columns_without_nulls_is_what_orjson_writes() -> None:
    batch = no_null_batch()
    assert all(column.null_count == 0 for column in batch.columns)
    assert writers._json_column(batch.column("number"), Kind.NUMBER).closing == ".0"  # the paths tested
    assert writers._json_column(batch.column("label"), Kind.TEXT).opening == '"'
    assert writers._json_column(batch.column("pct"), Kind.PERCENT).closing == ""  # 1e16: orjson's spelling
    assert collect(ExportFormat.JSON, EDGE, [batch]) == orjson_reference(EDGE, [batch])
    one_row = [batch.slice(1, 1)]
    assert collect(ExportFormat.JSON, EDGE, one_row) == orjson_reference(EDGE, one_row)


def test_json_stopped_early_ends_its_formatting_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writers, "JSON_ROWS_PER_CHUNK", 1000)
    consumed: list[int] = []
    chunks = export_stream(ExportFormat.JSON, TELEMETRY, endless_batches(consumed))
    first = list(itertools.islice(chunks, 2))
    assert first[0].startswith(b"[{") and first[1].startswith(b",{")
    assert any(thread.name.startswith("oee-json") for thread in threading.enumerate())
    chunks.close()  # the client hung up
    assert not any(thread.name.startswith("oee-json") for thread in threading.enumerate())
    assert len(consumed) <= 2 + 2 * writers.FORMATTING_THREADS  # it read a few slices ahead, no more


def csv_one_batch_at_a_time(
    table: ExportTable, batches: list[pa.RecordBatch], include_headers: bool
) -> bytes:
    """The CSV writer as it was before it formatted on threads: the reference for its bytes."""
    out = io.BytesIO()
    for number, batch in enumerate(batches):
        options = pacsv.WriteOptions(include_header=include_headers and number == 0)
        pacsv.write_csv(writers._with_text_timestamps(table, batch, neutralise=True), out, options)
    return out.getvalue()


@pytest.mark.parametrize("include_headers", [True, False])
def test_csv_formatted_on_threads_keeps_every_byte_and_the_order(include_headers: bool) -> None:
    batches = [
        edge_batch().slice(0, 0), edge_batch(), no_null_batch(), edge_batch().slice(5, 2),
        no_null_batch().slice(11, 5), edge_batch(), no_null_batch(7),
    ]  # fmt: skip
    chunks = list(export_stream(ExportFormat.CSV, EDGE, batches, include_headers=include_headers))
    assert len(chunks) == len(batches)  # one chunk per batch, in the batches' order
    body = b"".join(chunks)
    assert body == csv_one_batch_at_a_time(EDGE, batches, include_headers)
    header = b'"number","pct","count","flag","day","label","at"\n'
    assert body.count(header) == (1 if include_headers else 0) and body.startswith(header) == include_headers


def test_csv_stopped_early_ends_its_formatting_threads() -> None:
    consumed: list[int] = []
    chunks = export_stream(ExportFormat.CSV, TELEMETRY, endless_batches(consumed))
    first = list(itertools.islice(chunks, 2))
    assert first[0].startswith(b'"ts"') and not first[1].startswith(b'"ts"')  # the header once
    assert any(thread.name.startswith("oee-csv") for thread in threading.enumerate())
    chunks.close()  # the client hung up
    assert not any(thread.name.startswith("oee-csv") for thread in threading.enumerate())
    assert len(consumed) <= 2 + 2 * writers.FORMATTING_THREADS  # it read a few batches ahead, no more
