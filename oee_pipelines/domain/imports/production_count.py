"""Production-count imports: good and rejected pieces per machine and period, for plants that count
by hand or in a spreadsheet. Landed as `pieces_good` / `pieces_rejected` telemetry
(`source_system="import"`).

Counts are increments (as every counter in telemetry): a row at `timestamp` (the end of its period)
counts the pieces completed since the machine's previous row, and belongs to the 15-minute OEE window
ending at or after it. Count per 15 minutes or finer for per-window performance; coarser counts give
the right shift and day totals but lump each period's pieces into one window.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from oee_pipelines.domain.imports.engine import Checked, ColumnSpec, ImportSpec
from oee_pipelines.domain.imports.model import ImportReference
from oee_pipelines.domain.telemetry import PIECES_GOOD, PIECES_REJECTED, empty_telemetry, to_telemetry_table

SOURCE_SYSTEM = "import"
GOOD_QUALITY = 100
PIECES_UNIT = "pcs"


def _check_rows(checked: Checked) -> None:
    for column in ("pieces_good", "pieces_rejected"):
        counts = checked.parsed[column].to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            negative = np.isfinite(counts) & (counts < 0)
        checked.problems.add(negative, column, checked.raw[column], "must not be negative")


def _land(valid: pd.DataFrame, reference: ImportReference, file_name: str, run_id: str | None) -> pa.Table:
    valid = valid.reset_index(drop=True)
    rejected = pd.Series(valid["pieces_rejected"]).fillna(0.0)
    frame = pd.DataFrame(
        {
            "org_id": reference.org_id,
            # Site and line are completed from the machine reference when the rows land.
            "site_id": None,
            "line_id": None,
            "machine_id": pd.concat([valid["machine_id"], valid["machine_id"]], ignore_index=True),
            "signal": [PIECES_GOOD] * len(valid) + [PIECES_REJECTED] * len(valid),
            "ts": pd.concat([valid["timestamp"], valid["timestamp"]], ignore_index=True),
            "value": np.concatenate([valid["pieces_good"].to_numpy(dtype=np.float64), rejected.to_numpy()]),
            "text_value": None,
            "unit": PIECES_UNIT,
            "quality": np.int16(GOOD_QUALITY),
            "source_system": SOURCE_SYSTEM,
            "source_ref": file_name,
            "ingest_run_id": run_id,
        }
    )
    return to_telemetry_table(frame.sort_values(["machine_id", "ts", "signal"], kind="stable"))


def _combine(slices: list[pa.Table]) -> pa.Table:
    """Slices' landed rows in the order `_land` gives the whole file (a stable sort, as there)."""
    return pa.concat_tables(slices).sort_by(
        [("machine_id", "ascending"), ("ts", "ascending"), ("signal", "ascending")]
    )


PRODUCTION_COUNT: ImportSpec[pa.Table] = ImportSpec(
    kind="production_count",
    columns=(
        ColumnSpec("machine_id", required=True, known_in="machine_ids"),
        ColumnSpec("timestamp", "timestamp", required=True, aliases=("period_end", "end", "end_time")),
        ColumnSpec("pieces_good", "whole_number", required=True),
        ColumnSpec("pieces_rejected", "whole_number"),
    ),
    key=(("machine_id", "machine_id"), ("timestamp", "ts")),
    check_rows=_check_rows,
    land=_land,
    empty_landing=empty_telemetry,
    row_local=True,
    combine_landed=_combine,
)
