"""Sensor log imports: one reading per row, landed as telemetry (`source_system="import"`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from oee_pipelines.domain.imports.engine import Checked, ColumnSpec, ImportSpec
from oee_pipelines.domain.imports.model import ImportReference
from oee_pipelines.domain.telemetry import MACHINE_STATE, TELEMETRY_SCHEMA, empty_telemetry

SOURCE_SYSTEM = "import"
GOOD_QUALITY = 100


def _check_rows(checked: Checked) -> None:
    quality = checked.parsed["quality"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out_of_range = np.isfinite(quality) & ((quality < 0) | (quality > GOOD_QUALITY))
    checked.problems.add(out_of_range, "quality", checked.raw["quality"], "quality must be between 0 and 100")
    # A state row needs its stop reason (text_value), which a sensor log cannot carry; counters are
    # increments with their own template too.
    is_state = (checked.text["sensor_type"] == MACHINE_STATE).fillna(False).to_numpy(dtype=bool)
    checked.problems.add(
        is_state,
        "sensor_type",
        checked.raw["sensor_type"],
        "machine_state cannot be imported from a sensor log; import it with the machine-state log "
        "template (`oee import FILE --type machine_state_log`: machine_id, start, end, state, reason_code); "
        "stops imported as downtime only fill time that no machine state covers",
    )


def _land(valid: pd.DataFrame, reference: ImportReference, file_name: str, run_id: str | None) -> pa.Table:
    """The valid rows as telemetry, column by column in Arrow (the text columns are not copied)."""
    size = len(valid)
    quality = valid["quality"].to_numpy(dtype=np.float64, na_value=np.nan)
    columns = {
        "org_id": _repeated(reference.org_id, size),
        # Site and line are filled by enrichment from the machine reference, as for other sources.
        "site_id": pa.nulls(size, pa.string()),
        "line_id": pa.nulls(size, pa.string()),
        "machine_id": _arrow(valid["machine_id"]),
        "signal": _arrow(valid["sensor_type"]),
        "ts": _arrow(valid["timestamp"]),
        "value": pa.array(valid["value"].to_numpy(dtype=np.float64, na_value=np.nan), from_pandas=True),
        "text_value": pa.nulls(size, pa.string()),
        "unit": _arrow(valid["unit"]),
        "quality": pa.array(np.where(np.isnan(quality), GOOD_QUALITY, quality).astype(np.int16)),
        "source_system": _repeated(SOURCE_SYSTEM, size),
        "source_ref": _repeated(file_name, size),
        "ingest_run_id": _repeated(run_id, size),
    }
    return pa.table(columns).cast(TELEMETRY_SCHEMA)


def _arrow(column: pd.Series) -> pa.ChunkedArray | pa.Array:
    return pa.array(column, from_pandas=True)


def _repeated(value: str | None, size: int) -> pa.Array:
    return pa.nulls(size, pa.string()) if value is None else pa.repeat(pa.scalar(value, pa.string()), size)


SENSOR_LOG: ImportSpec[pa.Table] = ImportSpec(
    kind="sensor_log",
    columns=(
        ColumnSpec("timestamp", "timestamp", required=True),
        ColumnSpec("machine_id", required=True, known_in="machine_ids"),
        ColumnSpec("sensor_type", required=True),
        ColumnSpec("value", "number", required=True),
        ColumnSpec("unit"),
        ColumnSpec("quality", "whole_number"),
    ),
    key=(("machine_id", "machine_id"), ("sensor_type", "signal"), ("timestamp", "ts")),
    check_rows=_check_rows,
    land=_land,
    empty_landing=empty_telemetry,
    row_local=True,
    combine_landed=pa.concat_tables,
)
