"""What the CSV and XLSX readers share: naming header columns and dropping empty rows, keeping
each remaining row's number as the user sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from oee_pipelines.domain.imports import RowError, TextSheet

TEXT_DTYPE = "string[pyarrow]"


def header_names(cells: Sequence[object]) -> tuple[list[str], list[int]]:
    """Names for the header's non-blank cells and their positions.

    Blank header cells (e.g. the trailing empty columns Excel keeps after a deleted column) are
    left out. Repeated names are kept as they are, for the validator to report.
    """
    names: list[str] = []
    positions: list[int] = []
    for position, cell in enumerate(cells):
        name = "" if cell is None else str(cell).strip()
        if name:
            names.append(name)
            positions.append(position)
    return names, positions


def build_sheet(
    frame: pd.DataFrame,
    row_numbers: np.ndarray,
    file_name: str,
    *,
    read_errors: Sequence[RowError] = (),
    excel_epoch: datetime | None = None,
    details: Mapping[str, str] | None = None,
) -> TextSheet:
    """A TextSheet without the rows where every cell is blank (spacer lines, Excel's trailing rows)."""
    frame = frame.astype(TEXT_DTYPE)
    blank = np.ones(len(frame), dtype=bool)
    for position in range(frame.shape[1]):
        if not blank.any():  # a cell written in every row: no other column can make a row blank
            break
        blank &= _blank_cells(frame.iloc[:, position])
    kept = ~blank
    # Filtering copies every column: a file without blank rows (the usual case) is kept as read.
    if blank.any():
        frame = frame[kept].reset_index(drop=True)
    return TextSheet(
        frame=frame,
        row_numbers=np.asarray(row_numbers, dtype=np.int64)[kept],
        file_name=file_name,
        read_errors=tuple(read_errors),
        excel_epoch=excel_epoch,
        details=dict(details or {}),
    )


def _blank_cells(column: pd.Series) -> np.ndarray:
    """Cells missing, empty or only blanks, with Arrow compute (no stripped copy of the column)."""
    cells = column.array.__arrow_array__()
    blank = pc.or_kleene(pc.equal(cells, ""), pc.utf8_is_space(cells))
    return np.asarray(pc.fill_null(blank, True).to_numpy(zero_copy_only=False), dtype=bool)
