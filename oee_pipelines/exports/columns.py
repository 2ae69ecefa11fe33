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
        ("snapshot_time", Kind.TIMESTAMP, "End of the 15-minute window, UTC timestamp"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("machine_name", Kind.TEXT, "Machine name"),
        ("oee_pct", Kind.PERCENT, "OEE = A x P x Q, percent (NULL when nothing was planned)"),
        (
            "availability_pct",
            Kind.PERCENT,
            "Availability: run time / planned production time, percent (0-100)",
        ),
        ("performance_pct", Kind.PERCENT, "Performance capped at 100, percent (0-100)"),
        ("quality_pct", Kind.PERCENT, "Quality: good / total pieces, percent (0-100)"),
        ("shift_id", Kind.TEXT, "Shift"),
    ),
)

DOWNTIME = ExportTable(
    key="downtime",
    file_title="OEE_Downtime",
    columns=_columns(
        ("start_time", Kind.TIMESTAMP, "Start of the stop, UTC timestamp"),
        ("end_time", Kind.TIMESTAMP, "End of the stop, UTC timestamp (NULL while the stop lasts)"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("machine_name", Kind.TEXT, "Machine name"),
        ("line_id", Kind.TEXT, "Line"),
        ("reason_code", Kind.TEXT, "Reason code of the stop"),
        ("loss_category", Kind.TEXT, "Six-big-loss class of the reason"),
        ("is_planned", Kind.BOOLEAN, "True: planned stop (reason code)"),
        ("duration_minutes", Kind.NUMBER, "Length of the stop, minutes"),
        ("is_resolved", Kind.BOOLEAN, "False: the stop has no reason yet"),
        ("description", Kind.TEXT, "Free text from the reporter"),
        ("source_system", Kind.TEXT, "derived (from the machine state), import, or the reporting system"),
    ),
)

SHIFT_REPORTS = ExportTable(
    key="shift_reports",
    file_title="OEE_Shift_Reports",
    columns=_columns(
        ("shift_date", Kind.DATE, "Local start date of the shift instance"),
        ("shift_id", Kind.TEXT, "Shift"),
        ("shift_name", Kind.TEXT, "Shift name"),
        ("line_id", Kind.TEXT, "Line"),
        ("line_name", Kind.TEXT, "Line name"),
        ("shift_start", Kind.TIMESTAMP, "Start of the shift instance, UTC timestamp"),
        ("shift_end", Kind.TIMESTAMP, "End of the shift instance, UTC timestamp"),
        ("planned_production_time", Kind.NUMBER, "Planned production time of the line's machines, minutes"),
        ("actual_production_time", Kind.NUMBER, "Run time of the line's machines, minutes"),
        ("total_pieces", Kind.INTEGER, "Pieces made (good + rejected), pieces"),
        ("good_pieces", Kind.INTEGER, "Good pieces"),
        ("rejected_pieces", Kind.INTEGER, "Rejected pieces"),
        (
            "availability_pct",
            Kind.PERCENT,
            "Availability: run time / planned production time, percent (0-100)",
        ),
        ("performance_pct", Kind.PERCENT, "Performance capped at 100, percent (0-100)"),
        ("quality_pct", Kind.PERCENT, "Quality: good / total pieces, percent (0-100)"),
        ("oee_pct", Kind.PERCENT, "OEE = A x P x Q, percent (NULL when nothing was planned)"),
        ("downtime_minutes", Kind.NUMBER, "Derived downtime inside the shift, minutes"),
        (
            "status",
            Kind.TEXT,
            "draft until the shift ended and every machine sent data to its end, then final",
        ),
    ),
)

DATA_MART = ExportTable(
    key="data_mart",
    file_title="OEE_Data_Mart",
    columns=_columns(
        ("snapshot_id", Kind.INTEGER, "Snapshot id"),
        ("snapshot_time", Kind.TIMESTAMP, "End of the 15-minute window, UTC timestamp"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("machine_name", Kind.TEXT, "Machine name"),
        ("machine_code", Kind.TEXT, "The plant's own code of the machine"),
        ("line_id", Kind.TEXT, "Line"),
        ("line_name", Kind.TEXT, "Line name"),
        ("shift_id", Kind.TEXT, "Shift"),
        ("shift_name", Kind.TEXT, "Shift name"),
        ("work_order_id", Kind.TEXT, "Work order running in most of the window"),
        ("wo_number", Kind.TEXT, "Work order number"),
        ("product_name", Kind.TEXT, "Product of the work order"),
        ("oee_pct", Kind.PERCENT, "OEE = A x P x Q, percent (NULL when nothing was planned)"),
        (
            "availability_pct",
            Kind.PERCENT,
            "Availability: run time / planned production time, percent (0-100)",
        ),
        ("performance_pct", Kind.PERCENT, "Performance capped at 100, percent (0-100)"),
        ("quality_pct", Kind.PERCENT, "Quality: good / total pieces, percent (0-100)"),
        ("total_pieces", Kind.INTEGER, "Pieces made (good + rejected), pieces"),
        ("good_pieces", Kind.INTEGER, "Good pieces"),
        ("rejected_pieces", Kind.INTEGER, "Rejected pieces"),
        (
            "planned_production_time",
            Kind.NUMBER,
            "Planned production time (scheduled minus planned stops), minutes",
        ),
        (
            "actual_production_time",
            Kind.NUMBER,
            "Run time (planned production time minus unplanned stops), minutes",
        ),
        ("downtime_minutes", Kind.NUMBER, "Derived downtime overlapping the window, minutes"),
        ("planned_downtime_minutes", Kind.NUMBER, "Planned part of downtime_minutes, minutes"),
        ("unplanned_downtime_minutes", Kind.NUMBER, "Unplanned part of downtime_minutes, minutes"),
        # The snapshot's work order (sql/051): the same on each of its snapshots; never sum them.
        (
            "wo_material_planned_cost",
            Kind.NUMBER,
            "The work order's planned material cost, in the materials' currency (never sum over snapshots)",
        ),
        (
            "wo_material_consumed_cost",
            Kind.NUMBER,
            "The work order's consumed material cost (MES), in the materials' currency",
        ),
        (
            "wo_material_variance_cost",
            Kind.NUMBER,
            "The work order's material variance cost (ERP), in the materials' currency",
        ),
        ("wo_yield_variance_quantity", Kind.NUMBER, "The work order's yield variance (ERP), pieces"),
        ("wo_yield_variance_pct", Kind.PERCENT, "The work order's yield variance, percent of planned"),
    ),
)

TELEMETRY = ExportTable(
    key="telemetry",
    file_title="OEE_Telemetry",
    timestamp_unit="ms",
    columns=_columns(
        ("ts", Kind.TIMESTAMP, "When the reading was taken, UTC timestamp"),
        ("machine_id", Kind.TEXT, "Machine"),
        (
            "signal",
            Kind.TEXT,
            "machine_state, pieces_good, pieces_rejected, or a process signal (temperature, ...)",
        ),
        ("value", Kind.NUMBER, "The number, in unit (machine_state: 1 running, 0 not)"),
        ("text_value", Kind.TEXT, "machine_state: RUNNING or the reason code of the stop"),
        ("unit", Kind.TEXT, "Unit of value"),
        ("quality", Kind.INTEGER, "Reading quality score 0-100: 100 good, 50 questionable, 0 bad"),
        ("source_system", Kind.TEXT, "pi, aveva, mqtt, http, import or simulator"),
    ),
)

TELEMETRY_AGGREGATES = ExportTable(
    key="telemetry_aggregates",
    file_title="OEE_Telemetry_Aggregates",
    columns=_columns(
        ("bucket", Kind.TIMESTAMP, "Start of the hour bucket, UTC timestamp"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("signal", Kind.TEXT, "The signal, e.g. temperature"),
        ("avg_value", Kind.NUMBER, "Mean of the readings in the bucket, in the signal's unit"),
        ("min_value", Kind.NUMBER, "Lowest reading in the bucket, in the signal's unit"),
        ("max_value", Kind.NUMBER, "Highest reading in the bucket, in the signal's unit"),
        ("count", Kind.INTEGER, "Number of readings in the bucket"),
    ),
)

# The seed's own telemetry contracts (seed 002 §7.1-7.2), beside the project's richer TELEMETRY: the
# same readings under the seed's names. `event_type` is the signal (the seed's batch query filters it
# by metric names such as `temperature`); `source_system` says where a reading came from.
TELEMETRY_SEED_CSV = ExportTable(
    key="telemetry_seed_csv",
    file_title="telemetry",
    timestamp_unit="ms",
    columns=_columns(
        ("timestamp", Kind.TIMESTAMP, "When the reading was taken, UTC timestamp"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("event_type", Kind.TEXT, "The signal: machine_state, pieces_good, temperature, ..."),
        ("value", Kind.NUMBER, "The reading, in the signal's unit"),
        ("quality", Kind.INTEGER, "Reading quality score 0-100: 100 good, 50 questionable, 0 bad"),
    ),
)

TELEMETRY_SEED_PARQUET = ExportTable(
    key="telemetry_seed_parquet",
    file_title="telemetry",
    timestamp_unit="ms",
    columns=_columns(
        ("timestamp_utc", Kind.TIMESTAMP, "When the reading was taken, UTC timestamp"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("event_type", Kind.TEXT, "The signal: machine_state, pieces_good, temperature, ..."),
        ("event_value", Kind.NUMBER, "The reading, in the signal's unit"),
        ("quality_score", Kind.INTEGER, "Reading quality score 0-100: 100 good, 50 questionable, 0 bad"),
    ),
)

# The answer of `POST /api/batch/telemetry/`, in the seed's names and order (the published
# `telemetry_hourly` files keep TELEMETRY_AGGREGATES and its `signal`).
TELEMETRY_BATCH = ExportTable(
    key="telemetry_batch",
    file_title="OEE_Telemetry_Aggregates",
    columns=_columns(
        ("bucket", Kind.TIMESTAMP, "Start of the hour bucket, UTC timestamp"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("event_type", Kind.TEXT, "The signal, e.g. temperature"),
        ("avg_value", Kind.NUMBER, "Mean of the readings in the bucket, in the signal's unit"),
        ("max_value", Kind.NUMBER, "Highest reading in the bucket, in the signal's unit"),
        ("min_value", Kind.NUMBER, "Lowest reading in the bucket, in the signal's unit"),
        ("count", Kind.INTEGER, "Number of readings in the bucket"),
    ),
)

# Work order figures (sql/051), by the order's planned start: what it consumed (MES) and its variance
# (ERP). Costs are valued at the material master's unit cost (NULL where the material has none).
MATERIAL_CONSUMPTION = ExportTable(
    key="material_consumption",
    file_title="OEE_Material_Consumption",
    columns=_columns(
        ("planned_start", Kind.TIMESTAMP, "The work order's planned start, UTC timestamp"),
        ("work_order_id", Kind.TEXT, "Work order"),
        ("wo_number", Kind.TEXT, "Work order number"),
        ("line_id", Kind.TEXT, "Line"),
        ("material_number", Kind.TEXT, "Material consumed"),
        ("planned_quantity", Kind.NUMBER, "Quantity planned, in base_unit"),
        ("consumed_quantity", Kind.NUMBER, "Quantity consumed, in base_unit"),
        ("variance_quantity", Kind.NUMBER, "consumed - planned, in base_unit"),
        ("base_unit", Kind.TEXT, "Unit of the quantities"),
        ("unit_cost", Kind.NUMBER, "Cost per base_unit from the material master, in currency"),
        ("consumed_cost", Kind.NUMBER, "consumed_quantity x unit_cost, in currency"),
        ("currency", Kind.TEXT, "ISO currency of the costs"),
        ("source_system", Kind.TEXT, "System the row came from"),
    ),
)

PRODUCTION_VARIANCE = ExportTable(
    key="production_variance",
    file_title="OEE_Production_Variance",
    columns=_columns(
        ("planned_start", Kind.TIMESTAMP, "The work order's planned start, UTC timestamp"),
        ("work_order_id", Kind.TEXT, "Work order"),
        ("wo_number", Kind.TEXT, "Work order number"),
        ("line_id", Kind.TEXT, "Line"),
        ("item", Kind.TEXT, "yield (pieces) or a component's material number"),
        ("item_type", Kind.TEXT, "yield or material"),
        ("unit", Kind.TEXT, "Unit of the quantities (pieces for the yield)"),
        ("planned_quantity", Kind.NUMBER, "Quantity planned, in unit"),
        (
            "actual_quantity",
            Kind.NUMBER,
            "Quantity confirmed or issued, in unit (NULL until the ERP holds one)",
        ),
        ("variance_quantity", Kind.NUMBER, "actual - planned, in unit"),
        ("variance_pct", Kind.PERCENT, "Variance, percent of planned (NULL where nothing was planned)"),
        ("variance_cost", Kind.NUMBER, "Materials: variance_quantity x unit_cost, in currency"),
        ("currency", Kind.TEXT, "ISO currency of the costs"),
        ("source_system", Kind.TEXT, "System the row came from"),
    ),
)

# The six big losses per machine, shift instance and UTC day (sql/052, docs/oee-model.md): one row per
# loss category and reason code; a machine-day's minutes add up to its planned production time.
LOSSES = ExportTable(
    key="losses",
    file_title="OEE_Losses",
    columns=_columns(
        ("day", Kind.DATE, "UTC day the minutes lie in"),
        ("machine_id", Kind.TEXT, "Machine"),
        ("machine_name", Kind.TEXT, "Machine name"),
        ("line_id", Kind.TEXT, "Line"),
        ("shift_id", Kind.TEXT, "Shift"),
        ("shift_date", Kind.DATE, "Local start date of the shift instance"),
        ("loss_category", Kind.TEXT, "fully_productive, one of the six big losses, or unknown"),
        ("oee_factor", Kind.TEXT, "productive, availability, performance, quality or unknown"),
        ("reason_category", Kind.TEXT, "The reason code's category (stop losses)"),
        ("reason_code", Kind.TEXT, "Reason code (stop losses)"),
        ("reason_name", Kind.TEXT, "Reason name (stop losses)"),
        (
            "minutes",
            Kind.NUMBER,
            "Time lost (or productive), minutes; reduced_speed is negative when faster than ideal",
        ),
        ("occurrences", Kind.INTEGER, "Number of stops of this reason (stop losses and unknown time)"),
        ("pieces", Kind.INTEGER, "Pieces valued (rejects and fully productive rows)"),
    ),
)
