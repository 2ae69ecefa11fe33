"""The one telemetry schema every reading is converted to before it is enriched."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

TELEMETRY_SCHEMA = pa.schema(
    [
        pa.field("org_id", pa.string(), nullable=False),
        pa.field("site_id", pa.string()),
        pa.field("line_id", pa.string()),
        pa.field("machine_id", pa.string(), nullable=False),
        pa.field("signal", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("text_value", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("quality", pa.int16()),
        pa.field("source_system", pa.string(), nullable=False),
        pa.field("source_ref", pa.string()),
        pa.field("ingest_run_id", pa.string()),
    ]
)
TELEMETRY_COLUMNS: list[str] = TELEMETRY_SCHEMA.names

# Signals the OEE is computed from; every other signal is a process sensor.
MACHINE_STATE = "machine_state"
PIECES_GOOD = "pieces_good"
PIECES_REJECTED = "pieces_rejected"
RUNNING = "RUNNING"


def empty_telemetry() -> pa.Table:
    return TELEMETRY_SCHEMA.empty_table()


def to_telemetry_table(frame: pd.DataFrame) -> pa.Table:
    """Cast a pandas frame holding the telemetry columns to the exact Arrow schema."""
    missing = [name for name in TELEMETRY_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"telemetry frame lacks columns: {', '.join(missing)}")
    table = pa.Table.from_pandas(frame[TELEMETRY_COLUMNS], preserve_index=False)
    return table.cast(TELEMETRY_SCHEMA)
