"""What flows through an import: the sheet as the user wrote it, the reference it is checked
against, and the report and rows that come out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

ImportKind = Literal["sensor_log", "machine_state_log", "production_count", "downtime", "schedule"]
IMPORT_KINDS: tuple[ImportKind, ...] = (
    "sensor_log",
    "machine_state_log",
    "production_count",
    "downtime",
    "schedule",
)
# The kinds that land as telemetry in the lake (telemetry/source=import/).
TELEMETRY_KINDS: tuple[ImportKind, ...] = ("sensor_log", "machine_state_log", "production_count")

# Spreadsheet numbering: the header is row 1, so the first data row is row 2.
HEADER_ROW = 1
FIRST_DATA_ROW = 2


@dataclass(frozen=True)
class RowError:
    """One problem in one cell (or one whole row when `column` is None, or the header when row is 1)."""

    row: int
    column: str | None
    value: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class TextSheet:
    """A file's rows exactly as the user wrote them: every cell is text (or missing).

    `row_numbers[i]` is the row the user sees for `frame.iloc[i]` in their editor or Excel.
    `read_errors` are rows the reader could not split into cells (e.g. too many fields); they are
    not in `frame`. `excel_epoch` is set for workbooks, so a bare serial number in a timestamp
    column can be read as an Excel date.
    """

    frame: pd.DataFrame
    row_numbers: np.ndarray
    file_name: str
    read_errors: tuple[RowError, ...] = ()
    excel_epoch: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.row_numbers) != len(self.frame):
            raise ValueError(f"{len(self.row_numbers)} row numbers for {len(self.frame)} rows")

    @classmethod
    def from_rows(
        cls, header: Sequence[str], rows: Sequence[Sequence[str | None]], file_name: str = "rows"
    ) -> TextSheet:
        """A sheet from literal rows; the first row is row 2 as in a file."""
        frame = pd.DataFrame(list(rows), columns=list(header), dtype="string[pyarrow]")
        return cls(frame, np.arange(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame)), file_name)

    @property
    def rows_read(self) -> int:
        return len(self.frame) + len({error.row for error in self.read_errors})


@dataclass(frozen=True)
class ImportReference:
    """What an import is checked against. A set left as None is not checked."""

    org_id: str
    # Naive timestamps (no offset) are wall-clock time in this zone, e.g. "Europe/Berlin".
    plant_timezone: str
    machine_ids: frozenset[str]
    line_ids: frozenset[str]
    # Columns code, is_planned and loss_category, as in the `reason_codes` table.
    reason_codes: pd.DataFrame | None = None
    product_ids: frozenset[str] | None = None
    work_order_ids: frozenset[str] | None = None
    recipe_ids: frozenset[str] | None = None


@dataclass(frozen=True)
class ImportReport:
    """The outcome of validating one file: how many rows, and every problem found."""

    kind: ImportKind
    file_name: str
    rows_read: int
    rows_valid: int
    rows_to_land: int
    errors: list[RowError]  # the first problems in file order, at most the validation's limit
    # Every problem counted by kind ("<column>: <reason>", row numbers inside a reason masked as N).
    error_counts: dict[str, int] = field(default_factory=dict)
    total_errors: int = 0  # every problem, listed or not
    total_bad_rows: int = 0  # rows with at least one problem

    @property
    def truncated(self) -> bool:
        """Whether problems beyond `errors` were counted but not listed."""
        return self.total_errors > len(self.errors)

    @property
    def status(self) -> Literal["SUCCESS", "PARTIAL", "REJECTED"]:
        """The `import_jobs.status` this outcome maps to."""
        if not self.errors:
            return "SUCCESS"
        return "PARTIAL" if self.rows_to_land else "REJECTED"

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - self.rows_to_land

    def error_dicts(self) -> list[dict[str, Any]]:
        return [error.as_dict() for error in self.errors]


Landed = TypeVar("Landed", pa.Table, pd.DataFrame)


@dataclass(frozen=True)
class ImportResult(Generic[Landed]):
    """The report, the rows ready to land, and (only with quarantine) the rows turned away.

    `rejected` holds the rejected rows' original text plus `row` and `errors` columns.
    """

    report: ImportReport
    rows: Landed
    rejected: pd.DataFrame | None = None
