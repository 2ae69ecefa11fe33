"""Sensor log imports: one reading per row, landed as telemetry (`source_system="import"`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from oee_pipelines.domain.imports.engine import Checked, ColumnSpec, ImportSpec
from oee_pipelines.domain.imports.model import ImportReference
from oee_pipelines.domain.telemetry import MACHINE_STATE, empty_telemetry, to_telemetry_table

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
    valid = valid.reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "org_id": reference.org_id,
            # Site and line are filled by enrichment from the machine reference, as for other sources.
            "site_id": None,
            "line_id": None,
            "machine_id": valid["machine_id"],
            "signal": valid["sensor_type"],
            "ts": valid["timestamp"],
            "value": valid["value"],
            "text_value": None,
            "unit": valid["unit"],
            "quality": valid["quality"].fillna(GOOD_QUALITY).astype(np.int16),
            "source_system": SOURCE_SYSTEM,
            "source_ref": file_name,
            "ingest_run_id": run_id,
        }
    )
    return to_telemetry_table(frame)


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
