"""Slices of a file are checked one ahead on a thread (`engine._checked_ahead`): the report and the
landed rows are those of the file validated whole, the next slice's cells are checked while the
current slice's duplicates and rows are handled, and an error surfaces where it did before, leaving
no thread behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pandas as pd
import pytest

from oee_pipelines.domain.imports import SPECS, ImportReference, TextSheet, engine

REFERENCE = ImportReference(
    org_id="acme",
    plant_timezone="Europe/Berlin",
    machine_ids=frozenset({"M1", "M2", "M3"}),
    line_ids=frozenset({"L1"}),
)
HEADER = ["timestamp", "machine_id", "sensor_type", "value", "unit", "quality"]
SPEC = SPECS["sensor_log"]


def sensor_rows(count: int, bad: bool) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    for n in range(count):
        stamp = f"2025-03-29T{n // 60 % 24:02d}:{n % 60:02d}:00" + ("Z" if n % 2 else "")
        rows.append([stamp, f"M{1 + n % 3}", "temperature", f"{20 + n % 7}.5", "degC", "100"])
    if bad:
        rows[5][0] = "2025-13-01 00:00:00"  # no such month
        rows[17][1] = "M9"  # unknown machine
        rows[40][3] = "warm"  # not a number
        rows[63] = list(rows[2])  # a duplicate of a row two slices earlier
        rows[88][5] = "1.5"  # not a whole number
        rows[130][0] = "2025-03-30 02:30:00"  # skipped by the daylight-saving change in Berlin
    return rows


def slices_of(sheet: TextSheet, size: int) -> list[TextSheet]:
    return [
        TextSheet(
            sheet.frame.iloc[start : start + size].reset_index(drop=True),
            sheet.row_numbers[start : start + size],
            sheet.file_name,
        )
        for start in range(0, len(sheet.frame), size)
    ]


def checker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("import-check")]


@pytest.mark.parametrize("size", [1, 25, 1000])
def test_a_bad_file_in_slices_gives_the_report_of_the_whole_file(size: int) -> None:
    sheet = TextSheet.from_rows(HEADER, sensor_rows(150, bad=True), file_name="sensors.csv")

    whole = engine.validate(SPEC, sheet, REFERENCE)
    sliced = engine.validate_in_slices(SPEC, slices_of(sheet, size), REFERENCE, keep_valid_rows=True)

    assert sliced.report == whole.report
    assert {error.row for error in whole.report.errors} == {7, 19, 42, 65, 90, 132}
    assert sliced.report.rows_to_land == 0 and not checker_threads()


def test_a_good_file_in_slices_lands_the_rows_of_the_whole_file() -> None:
    sheet = TextSheet.from_rows(HEADER, sensor_rows(150, bad=False), file_name="sensors.csv")

    whole = engine.validate(SPEC, sheet, REFERENCE, land_valid_rows=True, ingest_run_id="run-1")
    sliced = engine.validate_in_slices(
        SPEC, slices_of(sheet, 40), REFERENCE, keep_valid_rows=True, ingest_run_id="run-1"
    )

    assert sliced.report == whole.report and sliced.report.rows_to_land == 150
    assert sliced.rows.equals(whole.rows)


def test_the_next_slice_is_checked_on_a_thread_while_this_one_is_handled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sheet = TextSheet.from_rows(HEADER, sensor_rows(90, bad=False), file_name="sensors.csv")
    events: list[str] = []
    checked_on: list[str] = []
    check_cells = engine._check_cells

    def recording_check(*args: object) -> engine.Checked:
        checked_on.append(threading.current_thread().name)
        return check_cells(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_check_cells", recording_check)

    def slices() -> Iterator[TextSheet]:
        for index, part in enumerate(slices_of(sheet, 30)):
            events.append(f"read {index}")
            yield part

    engine.validate_in_slices(
        SPEC, slices(), REFERENCE, on_valid_rows=lambda rows: events.append(f"landed {rows.num_rows}")
    )

    assert events == ["read 0", "read 1", "landed 30", "read 2", "landed 30", "landed 30"]
    assert len(checked_on) == 3 and all(name.startswith("import-check") for name in checked_on)
    assert not checker_threads()


def test_an_error_checking_a_slice_surfaces_after_the_slices_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sheet = TextSheet.from_rows(HEADER, sensor_rows(90, bad=False), file_name="sensors.csv")
    check_cells = engine._check_cells
    landed: list[int] = []

    def failing_check(spec: object, part: TextSheet, *args: object) -> engine.Checked:
        if part.row_numbers[0] > 40:
            raise RuntimeError("cannot check the second slice")
        return check_cells(spec, part, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_check_cells", failing_check)
    with pytest.raises(RuntimeError, match="second slice"):
        engine.validate_in_slices(
            SPEC, slices_of(sheet, 45), REFERENCE, on_valid_rows=lambda rows: landed.append(rows.num_rows)
        )
    assert landed == [45]  # the first slice was handled, as when slices were checked one by one
    assert not checker_threads()


def test_an_unreadable_slice_stops_the_checks_and_their_thread() -> None:
    sheet = TextSheet.from_rows(HEADER, sensor_rows(90, bad=False), file_name="sensors.csv")

    def slices() -> Iterator[TextSheet]:
        yield from slices_of(sheet, 30)[:2]
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="went away"):
        engine.validate_in_slices(SPEC, slices(), REFERENCE)
    assert not checker_threads()


def test_rows_are_a_frame_per_slice_not_shared_between_threads() -> None:
    # Each slice's problems are its own: the row numbers of a slice never leak into another's.
    sheet = TextSheet.from_rows(HEADER, sensor_rows(150, bad=True), file_name="sensors.csv")
    sliced = engine.validate_in_slices(SPEC, slices_of(sheet, 10), REFERENCE, error_limit=1000)
    by_row = pd.Series({error.row: error.column for error in sliced.report.errors})
    assert by_row.to_dict() == {
        7: "timestamp",
        19: "machine_id",
        42: "value",
        65: "timestamp",
        90: "quality",
        132: "timestamp",
    }
