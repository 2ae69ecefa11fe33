"""Overlapping stops and states on random files: the integer projection (`engine.SpanCollector`) finds
exactly what the pandas check it replaced found (sort by machine, start, row; compare each row with the
one before), and a file validated in slices of any size gives the report of the file validated whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oee_pipelines.domain.imports import SPECS, ImportReference, TextSheet, engine
from oee_pipelines.domain.imports.model import ImportKind

REFERENCE = ImportReference(
    org_id="acme",
    plant_timezone="Europe/Berlin",
    machine_ids=frozenset({"M1", "M2", "M3"}),
    line_ids=frozenset({"L1"}),
    reason_codes=pd.DataFrame(
        {"code": ["BRK", "BREAK"], "is_planned": [False, True], "loss_category": ["breakdowns", "planned"]}
    ),
)


def random_spans(seed: int, rows: int) -> tuple[list[str | None], list[str | None], list[str | None]]:
    """Machines (some unknown or blank) and start/end texts (some blank, bad, naive or repeated)."""
    generator = np.random.default_rng(seed)
    machines = generator.choice(["M1", "M2", "M3", "M9", ""], size=rows, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    starts = generator.integers(0, 600, size=rows)
    lengths = generator.integers(-5, 40, size=rows)

    def stamp(minute: int, naive: bool) -> str:
        text = f"2025-01-14{' ' if naive else 'T'}{6 + minute // 60:02d}:{minute % 60:02d}:00"
        return text if naive else text + "Z"

    start_text: list[str | None] = []
    end_text: list[str | None] = []
    for index in range(rows):
        draw = generator.random()
        start_text.append(
            None if draw < 0.05 else "soon" if draw < 0.08 else stamp(starts[index], draw < 0.3)
        )
        end_draw = generator.random()
        end_text.append(None if end_draw < 0.2 else stamp(max(starts[index] + lengths[index], 0), False))
    return [machine or None for machine in machines.tolist()], start_text, end_text


def pandas_overlaps(
    parsed: pd.DataFrame, rows: np.ndarray, columns: tuple[str, str, str], required: bool
) -> set:
    """The check as it was written before the projection: (row, earlier row) of each overlap."""
    machine, start, end = columns
    spans = parsed[[machine, start, end]]
    spans = spans.dropna() if required else spans.dropna(subset=[machine, start])
    spans = spans.assign(row=rows[spans.index.to_numpy()])
    spans = spans.sort_values([machine, start, "row"], kind="stable")
    previous = spans.groupby(machine, sort=False)[[end, "row"]].shift()
    overlapping = previous[end].notna() & (spans[start] < previous[end])
    return set(
        zip(
            spans["row"][overlapping].tolist(), previous["row"][overlapping].astype(int).tolist(), strict=True
        )
    )


def sheet_for(kind: ImportKind, seed: int, rows: int) -> TextSheet:
    machines, starts, ends = random_spans(seed, rows)
    if kind == "downtime":
        header = ["start_timestamp", "end_timestamp", "machine_id", "reason_code"]
        cells = [[s, e, m, "BRK"] for m, s, e in zip(machines, starts, ends, strict=True)]
    else:
        header = ["machine_id", "start", "end", "state"]
        cells = [[m, s, e, "RUNNING"] for m, s, e in zip(machines, starts, ends, strict=True)]
    return TextSheet.from_rows(header, cells, file_name=f"{kind}.csv")


def slices_of(sheet: TextSheet, size: int) -> list[TextSheet]:
    return [
        TextSheet(
            sheet.frame.iloc[start : start + size].reset_index(drop=True),
            sheet.row_numbers[start : start + size],
            sheet.file_name,
        )
        for start in range(0, len(sheet.frame), size)
    ]


@pytest.mark.parametrize("kind", ["downtime", "machine_state_log"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_projection_finds_what_the_pandas_check_found(kind: ImportKind, seed: int) -> None:
    spec = SPECS[kind]
    check = spec.overlaps
    assert check is not None
    sheet = sheet_for(kind, seed, 400)

    report = engine.validate(spec, sheet, REFERENCE, error_limit=100_000).report
    problems = engine.cells.Problems(sheet.row_numbers, spec.column_names)
    checked = engine._check(
        spec, sheet, REFERENCE, problems, problems, engine.cells.DuplicateFinder(len(spec.key)), None, None
    )
    expected = pandas_overlaps(checked.parsed, sheet.row_numbers, check.columns, check.end_required)

    found = {
        (error.row, int(error.reason.rsplit(" ", 1)[1]))
        for error in report.errors
        if error.reason.startswith("overlaps")
    }
    assert found == expected
    assert len(expected) > 20  # the random file really has overlaps to find


@pytest.mark.parametrize("kind", ["downtime", "machine_state_log"])
@pytest.mark.parametrize("size", [1, 7, 64, 1000])
def test_any_slice_size_gives_the_whole_report(kind: ImportKind, size: int) -> None:
    spec = SPECS[kind]
    sheet = sheet_for(kind, 4, 300)

    whole = engine.validate(spec, sheet, REFERENCE, error_limit=50)
    overlaps = engine.find_overlaps(spec, slices_of(sheet, size), REFERENCE)
    sliced = engine.validate_in_slices(
        spec, slices_of(sheet, size), REFERENCE, overlaps=overlaps, error_limit=50
    )

    assert sliced.report == whole.report
    assert whole.report.total_errors > 50  # the listed problems are cut, the counts are not


def test_a_good_state_log_lands_the_same_rows_from_slices() -> None:
    spec = SPECS["machine_state_log"]
    rows = [[f"M{1 + n % 3}", f"2025-01-14T{6 + n // 3:02d}:00:00Z", None, "RUNNING"] for n in range(30)]
    sheet = TextSheet.from_rows(["machine_id", "start", "end", "state"], rows, file_name="states.csv")

    whole = engine.validate(spec, sheet, REFERENCE)
    overlaps = engine.find_overlaps(spec, slices_of(sheet, 4), REFERENCE)
    sliced = engine.validate_in_slices(
        spec, slices_of(sheet, 4), REFERENCE, overlaps=overlaps, keep_valid_rows=True
    )

    assert sliced.report == whole.report and whole.report.rows_to_land == 30
    # Each state repeats every minute until the machine's next row, an hour and slices later.
    assert sliced.rows.equals(whole.rows) and whole.rows.num_rows == 3 * (9 * 60 + 1)
