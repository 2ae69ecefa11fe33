"""What each exported table holds: its columns in the published order, their types and file names.

The API and the export assets both read these definitions, so a column has one name, one type and
one place in every format.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import pyarrow as pa


class Kind(StrEnum):
    TIMESTAMP = "timestamp"
    DATE = "date"
    PERCENT = "percent"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TEXT = "text"


ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.DATE: pa.date32(),
    Kind.PERCENT: pa.float64(),
    Kind.NUMBER: pa.float64(),
    Kind.INTEGER: pa.int64(),
    Kind.BOOLEAN: pa.bool_(),
    Kind.TEXT: pa.string(),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    description: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.kind]


@dataclass(frozen=True)
class ExportTable:
    key: str
    file_title: str
    columns: tuple[Column, ...]
    # Telemetry keeps sub-second timestamps; the OEE tables are on whole seconds.
    timestamp_unit: str = "s"

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(column.name, column.arrow_type) for column in self.columns])

    def conform(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch's columns in this table's order and types (e.g. DuckDB results)."""
        arrays = [batch.column(column.name).cast(column.arrow_type) for column in self.columns]
        return pa.RecordBatch.from_arrays(arrays, schema=self.arrow_schema)

    def filename(self, extension: str, on: date) -> str:
        return f"{self.file_title}_{on.isoformat()}.{extension}"


def _columns(*specs: tuple[str, Kind] | tuple[str, Kind, str]) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


SNAPSHOTS = ExportTable(
    key="snapshots",
    file_title="OEE_Snapshots",
    columns=_columns(
        ("snapshot_time", Kind.TIMESTAMP, "end of the 15-minute window, UTC"),
        ("machine_id", Kind.TEXT),
        ("machine_name", Kind.TEXT),
        ("oee_pct", Kind.PERCENT, "OEE, 0-100 (NULL when nothing was planned)"),
        ("availability_pct", Kind.PERCENT),
        ("performance_pct", Kind.PERCENT, "capped at 100"),
        ("quality_pct", Kind.PERCENT),
        ("shift_id", Kind.TEXT),
    ),
)

DOWNTIME = ExportTable(
    key="downtime",
    file_title="OEE_Downtime",
    columns=_columns(
        ("start_time", Kind.TIMESTAMP, "UTC"),
        ("end_time", Kind.TIMESTAMP, "UTC, NULL while the stop lasts"),
        ("machine_id", Kind.TEXT),
        ("machine_name", Kind.TEXT),
        ("line_id", Kind.TEXT),
        ("reason_code", Kind.TEXT),
        ("loss_category", Kind.TEXT),
        ("is_planned", Kind.BOOLEAN),
        ("duration_minutes", Kind.NUMBER),
        ("is_resolved", Kind.BOOLEAN),
        ("description", Kind.TEXT),
        ("source_system", Kind.TEXT),
    ),
)

SHIFT_REPORTS = ExportTable(
    key="shift_reports",
    file_title="OEE_Shift_Reports",
    columns=_columns(
        ("shift_date", Kind.DATE),
        ("shift_id", Kind.TEXT),
        ("shift_name", Kind.TEXT),
        ("line_id", Kind.TEXT),
        ("line_name", Kind.TEXT),
        ("shift_start", Kind.TIMESTAMP, "UTC"),
        ("shift_end", Kind.TIMESTAMP, "UTC"),
        ("planned_production_time", Kind.NUMBER, "minutes"),
        ("actual_production_time", Kind.NUMBER, "minutes"),
        ("total_pieces", Kind.INTEGER),
        ("good_pieces", Kind.INTEGER),
        ("rejected_pieces", Kind.INTEGER),
        ("availability_pct", Kind.PERCENT),
        ("performance_pct", Kind.PERCENT),
        ("quality_pct", Kind.PERCENT),
        ("oee_pct", Kind.PERCENT),
        ("downtime_minutes", Kind.NUMBER),
        ("status", Kind.TEXT, "draft or final"),
    ),
)

DATA_MART = ExportTable(
    key="data_mart",
    file_title="OEE_Data_Mart",
    columns=_columns(
        ("snapshot_id", Kind.INTEGER),
        ("snapshot_time", Kind.TIMESTAMP, "end of the 15-minute window, UTC"),
        ("machine_id", Kind.TEXT),
        ("machine_name", Kind.TEXT),
        ("machine_code", Kind.TEXT),
        ("line_id", Kind.TEXT),
        ("line_name", Kind.TEXT),
        ("shift_id", Kind.TEXT),
        ("shift_name", Kind.TEXT),
        ("work_order_id", Kind.TEXT),
        ("wo_number", Kind.TEXT),
        ("product_name", Kind.TEXT),
        ("oee_pct", Kind.PERCENT),
        ("availability_pct", Kind.PERCENT),
        ("performance_pct", Kind.PERCENT),
        ("quality_pct", Kind.PERCENT),
        ("total_pieces", Kind.INTEGER),
        ("good_pieces", Kind.INTEGER),
        ("rejected_pieces", Kind.INTEGER),
        ("planned_production_time", Kind.NUMBER, "minutes"),
        ("actual_production_time", Kind.NUMBER, "minutes"),
        ("downtime_minutes", Kind.NUMBER),
        ("planned_downtime_minutes", Kind.NUMBER),
        ("unplanned_downtime_minutes", Kind.NUMBER),
    ),
)

TELEMETRY = ExportTable(
    key="telemetry",
    file_title="OEE_Telemetry",
    timestamp_unit="ms",
    columns=_columns(
        ("ts", Kind.TIMESTAMP, "UTC"),
        ("machine_id", Kind.TEXT),
        ("signal", Kind.TEXT),
        ("value", Kind.NUMBER),
        ("text_value", Kind.TEXT),
        ("unit", Kind.TEXT),
        ("quality", Kind.INTEGER, "100 good, 50 questionable, 0 bad"),
        ("source_system", Kind.TEXT),
    ),
)

TELEMETRY_AGGREGATES = ExportTable(
    key="telemetry_aggregates",
    file_title="OEE_Telemetry_Aggregates",
    columns=_columns(
        ("bucket", Kind.TIMESTAMP, "start of the bucket, UTC"),
        ("machine_id", Kind.TEXT),
        ("signal", Kind.TEXT),
        ("avg_value", Kind.NUMBER),
        ("min_value", Kind.NUMBER),
        ("max_value", Kind.NUMBER),
        ("count", Kind.INTEGER),
    ),
)
