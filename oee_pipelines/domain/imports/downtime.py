"""Downtime imports: one stop per row, landed in the `oee_downtime_events` columns.

Whether a stop was planned, and its loss category, come from the reason-code table passed in.
"""

from __future__ import annotations

import pandas as pd

from oee_pipelines.domain.imports.engine import (
    Checked,
    ColumnSpec,
    ImportSpec,
    OverlapCheck,
    require_end_after_start,
)
from oee_pipelines.domain.imports.model import ImportReference

SOURCE_SYSTEM = "import"
DOWNTIME_COLUMNS = [
    "org_id",
    "machine_id",
    "line_id",
    "start_time",
    "end_time",
    "duration_minutes",
    "is_planned",
    "reason_code",
    "loss_category",
    "description",
    "operator_id",
    "is_resolved",
    "source_system",
    "source_ref",
]


def _reason_codes(reference: ImportReference) -> pd.DataFrame:
    if reference.reason_codes is None:
        raise ValueError("a downtime import needs the reason-code table (ImportReference.reason_codes)")
    return reference.reason_codes.drop_duplicates("code").set_index("code")


def _check_rows(checked: Checked) -> None:
    require_end_after_start(checked, "start_timestamp", "end_timestamp")
    codes = _reason_codes(checked.reference)
    reason = checked.text["reason_code"]
    unknown = (reason.notna() & ~reason.isin(list(codes.index))).to_numpy(dtype=bool)
    checked.problems.add(
        unknown, "reason_code", checked.raw["reason_code"], "unknown reason code (codes are case-sensitive)"
    )


def _land(
    valid: pd.DataFrame, reference: ImportReference, file_name: str, run_id: str | None
) -> pd.DataFrame:
    valid = valid.reset_index(drop=True)
    codes = _reason_codes(reference)
    duration = (valid["end_timestamp"] - valid["start_timestamp"]).dt.total_seconds() / 60.0
    frame = pd.DataFrame(
        {
            "org_id": reference.org_id,
            "machine_id": valid["machine_id"],
            "line_id": valid["line_id"],
            "start_time": valid["start_timestamp"],
            "end_time": valid["end_timestamp"],
            "duration_minutes": duration.round(4),
            "is_planned": valid["reason_code"].map(codes["is_planned"]).astype(bool),
            "reason_code": valid["reason_code"],
            "loss_category": valid["reason_code"].map(codes["loss_category"]).astype("string[pyarrow]"),
            "description": valid["description"],
            "operator_id": valid["operator_id"],
            "is_resolved": True,
            "source_system": SOURCE_SYSTEM,
            "source_ref": file_name,
        }
    )
    return frame[DOWNTIME_COLUMNS]


def _empty() -> pd.DataFrame:
    return pd.DataFrame(columns=DOWNTIME_COLUMNS)


def _combine(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True)


# Two stops of one machine covering the same minutes would count that time twice.
STOPS_MUST_NOT_OVERLAP = OverlapCheck(
    group="machine_id",
    start="start_timestamp",
    end="end_timestamp",
    end_required=True,
    reason="overlaps the stop of the same machine in row {row}",
)


DOWNTIME: ImportSpec[pd.DataFrame] = ImportSpec(
    kind="downtime",
    columns=(
        ColumnSpec("start_timestamp", "timestamp", required=True),
        ColumnSpec("end_timestamp", "timestamp", required=True),
        ColumnSpec("machine_id", required=True, known_in="machine_ids"),
        ColumnSpec("line_id", known_in="line_ids"),
        ColumnSpec("reason_code", required=True),
        ColumnSpec("description"),
        ColumnSpec("operator_id"),
    ),
    key=(("machine_id", "machine_id"), ("start_timestamp", "start_time")),
    check_rows=_check_rows,
    land=_land,
    empty_landing=_empty,
    combine_landed=_combine,
    overlaps=STOPS_MUST_NOT_OVERLAP,
)
