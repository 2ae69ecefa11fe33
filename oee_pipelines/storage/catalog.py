"""The data catalog: every column of every warehouse table and lake dataset, its type and what it holds.

One description per column, with its unit where it has one (minutes, percent (0-100), pieces, seconds
per piece, UTC timestamp). The Dagster definitions show these as each asset's column schema
(`defs/metadata.py`), `oee db migrate` writes them as PostgreSQL column comments so BI tools see them
(`comment_statements`), and `oee_pipelines_tests/defs/test_asset_catalog.py` checks them against the
migrated warehouse, so the catalog cannot drift from `sql/`. The published files' columns are described
once, in `oee_pipelines/exports/columns.py`.

Warehouse types are PostgreSQL's names (`timestamptz`, `numeric`, `text[]`...); lake types are Arrow's.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from oee_pipelines.domain.enrichment import CONTEXT_FIELDS
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA


class Location(StrEnum):
    TABLE = "table"  # a warehouse table
    VIEW = "view"  # a warehouse view
    LAKE = "lake"  # Parquet files in the lake
    REPORT = "report"  # what an asset's materialization reports (no table of its own)


@dataclass(frozen=True)
class CatalogColumn:
    name: str
    type: str
    description: str


@dataclass(frozen=True)
class Dataset:
    name: str
    location: Location
    description: str
    columns: tuple[CatalogColumn, ...]

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> CatalogColumn:
        return next(column for column in self.columns if column.name == name)


def _dataset(
    name: str, description: str, *columns: tuple[str, str, str], location: Location = Location.TABLE
) -> Dataset:
    return Dataset(name, location, description, tuple(CatalogColumn(*column) for column in columns))


TS = "timestamptz"
UTC = "UTC timestamp"
ORG = ("org_id", "text", "Organization (tenant) id")
RUN = ("dagster_run_id", "text", "Dagster run that wrote the row")
SOURCE_SYSTEM = (
    "source_system",
    "text",
    "System the row came from: the MES / ERP system type (custom_rest, sap_odata, ...)",
)
PLANT_SOURCE = ("source", "text", "Who defines the row: plant_model (the plant model file) or mes")

WAREHOUSE: tuple[Dataset, ...] = (
    # --- plant reference (services/plant/) -----------------------------------------------------------
    _dataset(
        "organizations",
        "Tenants; every row of plant data carries org_id.",
        ("id", "text", "Organization id"),
        ("name", "text", "Display name"),
        ("created_at", TS, f"When the row was created, {UTC}"),
    ),
    _dataset(
        "sites",
        "Plants with their IANA time zone.",
        ("id", "text", "Site id"),
        ORG,
        ("name", "text", "Display name"),
        ("timezone", "text", "IANA time zone of the site's shift calendar, e.g. Europe/Warsaw"),
    ),
    _dataset(
        "production_lines",
        "Production lines per site.",
        ("id", "text", "Line id"),
        ORG,
        ("site_id", "text", "Site the line belongs to"),
        ("name", "text", "Display name"),
        ("code", "text", "The plant's own code of the line"),
        ("is_active", "boolean", "False once the line left the plant model"),
    ),
    _dataset(
        "machines",
        "Machines per line.",
        ("id", "text", "Machine id"),
        ORG,
        ("line_id", "text", "Line the machine belongs to"),
        ("name", "text", "Display name"),
        ("code", "text", "The plant's own code of the machine"),
        ("machine_type", "text", "Machine type, e.g. filler"),
        ("is_active", "boolean", "False once the machine left the plant model"),
        PLANT_SOURCE,
    ),
    _dataset(
        "shifts",
        "Shift calendars per site: local start and end, weekdays, effective dates.",
        ("id", "text", "Shift id"),
        ORG,
        ("site_id", "text", "Site whose calendar the shift belongs to"),
        ("name", "text", "Display name"),
        ("shift_number", "smallint", "Number of the shift in the day (1, 2, 3)"),
        ("start_time", "time", "Local start time of day (the site's time zone)"),
        ("end_time", "time", "Local end time of day; before start_time for a night shift"),
        ("weekdays", "smallint[]", "ISO weekdays the shift runs on (1 = Monday .. 7 = Sunday)"),
        ("effective_from", "date", "First local date the calendar applies (NULL: always)"),
        ("effective_to", "date", "Local date the calendar stops applying, exclusive (NULL: open)"),
        ("is_active", "boolean", "False once the shift left the plant model"),
    ),
    _dataset(
        "shift_breaks",
        "Planned breaks per shift.",
        ("id", "bigint", "Row id"),
        ORG,
        ("shift_id", "text", "Shift the break belongs to"),
        ("name", "text", "Display name, e.g. Meal"),
        ("start_offset_minutes", "integer", "Start of the break after the shift start, minutes"),
        ("duration_minutes", "integer", "Length of the break, minutes"),
    ),
    _dataset(
        "operators",
        "The operator roster, from the MES's operator assignments.",
        ("id", "text", "Operator id"),
        ORG,
        ("name", "text", "Display name"),
        ("role", "text", "The operator's role on the line"),
    ),
    _dataset(
        "operator_shifts",
        "Who ran a line on one shift of one day (MES operator assignments).",
        ("id", "bigint", "Row id"),
        ORG,
        ("line_id", "text", "Line the crew ran"),
        ("shift_id", "text", "Shift of the assignment"),
        ("shift_date", "date", "Local start date of the shift instance"),
        ("operator_id", "text", "Operator on the line"),
        ("role", "text", "Operator's role on this shift"),
        ("start_time", TS, f"Start of the assignment, {UTC}"),
        ("end_time", TS, f"End of the assignment, {UTC}"),
    ),
    _dataset(
        "products",
        "Products and their default ideal cycle time.",
        ("id", "text", "Product id"),
        ORG,
        ("code", "text", "The plant's own product code"),
        ("name", "text", "Display name"),
        ("unit", "text", "Unit a piece is counted in (default pcs)"),
        ("ideal_cycle_time_seconds", "double precision", "Default ideal cycle time, seconds per piece"),
        PLANT_SOURCE,
    ),
    _dataset(
        "machine_cycle_times",
        "Ideal cycle time per machine and product; wins over the product default and the MES recipe.",
        ORG,
        ("machine_id", "text", "Machine"),
        ("product_id", "text", "Product"),
        (
            "ideal_cycle_time_seconds",
            "double precision",
            "Ideal cycle time on the machine, seconds per piece",
        ),
        PLANT_SOURCE,
    ),
    _dataset(
        "reason_codes",
        "Downtime reason codes: category, planned or not, six-big-loss class.",
        ORG,
        ("code", "text", "Reason code, e.g. BRK-MECH"),
        ("category", "text", "Reason category, e.g. Breakdowns"),
        ("name", "text", "Display name"),
        ("is_planned", "boolean", "True: planned stop (not an availability loss)"),
        ("loss_category", "text", "Six-big-loss class (breakdowns, setup_adjustments, ..., planned_stop)"),
    ),
    _dataset(
        "sensor_range_config",
        "Expected sensor ranges and the action on a violation.",
        ("id", "bigint", "Row id"),
        ORG,
        ("machine_id", "text", "Machine"),
        ("signal_type", "text", "Signal the range applies to, e.g. temperature"),
        ("min_value", "double precision", "Lowest expected value, in the signal's unit"),
        ("max_value", "double precision", "Highest expected value, in the signal's unit"),
        ("unit", "text", "Unit of min_value and max_value"),
        ("violation_action", "text", "ALERT (keep), DEGRADE (quality 50) or REJECT (drop the reading)"),
        ("is_active", "boolean", "False: the range is not checked"),
        ("created_at", TS, f"When the row was created, {UTC}"),
    ),
    _dataset(
        "iot_sensors",
        "IoT sensor registry (MQTT / HTTP).",
        ("sensor_id", "text", "Sensor id as the device sends it"),
        ORG,
        ("sensor_type", "text", "Signal the sensor measures, e.g. temperature"),
        ("machine_id", "text", "Machine the sensor is on"),
        ("protocol", "text", "MQTT or HTTP"),
        ("mqtt_topic", "text", "MQTT topic the sensor publishes on"),
        ("http_endpoint", "text", "HTTP endpoint the sensor posts to or is polled at"),
        ("polling_interval_seconds", "integer", "Expected interval between readings, seconds"),
        ("unit", "text", "Unit of the readings"),
        ("min_expected_value", "double precision", "Lowest plausible reading, in unit"),
        ("max_expected_value", "double precision", "Highest plausible reading, in unit"),
        ("is_active", "boolean", "False: readings are quarantined as unknown"),
    ),
    _dataset(
        "historian_tag_mappings",
        "Historian tags: machine, signal, scale, offset, counter mode, state set.",
        ("id", "bigint", "Row id"),
        ORG,
        ("historian_system", "text", "pi or aveva"),
        ("historian_tag", "text", "Tag name in the historian"),
        ("machine_id", "text", "Machine the tag belongs to"),
        ("signal_type", "text", "Telemetry signal the tag maps to, e.g. pieces_good"),
        ("unit", "text", "Unit of the mapped value"),
        ("scale_factor", "double precision", "Mapped value = raw value x scale_factor + offset_value"),
        ("offset_value", "double precision", "Added after scaling, in unit"),
        ("counter_mode", "text", "none, increment, or cumulative (converted to increments)"),
        ("counter_rollover", "double precision", "Value a cumulative counter wraps at, in unit"),
        ("is_active", "boolean", "False: the tag is not read"),
        ("state_set", "text", "State set of a machine_state tag (NULL: exactly RUNNING is running)"),
    ),
    _dataset(
        "state_name_mappings",
        "State names and codes of each state set: running, or stopped with a reason.",
        ORG,
        ("state_set", "text", "State set name"),
        ("state_key", "text", "State name lower-cased, or its numeric code as text"),
        ("running", "boolean", "True: the machine runs in this state"),
        ("reason_code", "text", "Reason code of the stop this state means"),
    ),
    # --- MES / ERP (services/mes_erp/) ---------------------------------------------------------------
    _dataset(
        "recipes",
        "Recipes downloaded from the MES, with their cycle times.",
        ("id", "text", "Recipe id"),
        ORG,
        ("product_id", "text", "Product the recipe makes"),
        ("line_id", "text", "Line the recipe is for (NULL: any)"),
        ("name", "text", "Display name"),
        ("version", "text", "Recipe version"),
        ("ideal_cycle_time_s", "numeric", "Ideal cycle time, seconds per piece"),
        ("target_cycle_time_s", "numeric", "Target cycle time, seconds per piece"),
        ("parameters", "jsonb", "Process parameters of the recipe"),
        SOURCE_SYSTEM,
        ("updated_at", TS, f"Last change of the row, {UTC}"),
    ),
    _dataset(
        "recipe_downloads",
        "Each recipe version downloaded from the MES.",
        ("download_id", "bigint", "Row id"),
        ORG,
        ("mes_recipe_id", "text", "Recipe id in the MES"),
        ("local_recipe_id", "text", "Recipe id in the warehouse"),
        ("recipe_version", "text", "Version downloaded"),
        ("download_timestamp", TS, f"When it was downloaded, {UTC}"),
        ("downloaded_by", "text", "Who or what downloaded it"),
        RUN,
    ),
    _dataset(
        "work_orders",
        "Work orders named by the MES schedule.",
        ("id", "text", "Work order id"),
        ORG,
        ("wo_number", "text", "Work order number in the MES"),
        ("product_id", "text", "Product to make"),
        ("recipe_id", "text", "Recipe to run"),
        ("line_id", "text", "Line the order runs on"),
        ("planned_quantity", "integer", "Quantity to make, pieces"),
        ("actual_quantity", "integer", "Good quantity made so far, pieces"),
        ("status", "text", "planned, released, in_progress, completed or cancelled"),
        ("planned_start", TS, f"Planned start, {UTC}"),
        ("planned_end", TS, f"Planned end, {UTC}"),
        ("actual_start", TS, f"Actual start, {UTC}"),
        ("actual_end", TS, f"Actual end, {UTC}"),
        SOURCE_SYSTEM,
        ("updated_at", TS, f"Last change of the row, {UTC}"),
    ),
    _dataset(
        "production_schedules",
        "The MES production schedule.",
        ("id", "bigint", "Row id"),
        ORG,
        ("external_id", "text", "Schedule entry id in the MES"),
        ("line_id", "text", "Line scheduled"),
        ("work_order_id", "text", "Work order scheduled"),
        ("product_id", "text", "Product scheduled"),
        ("recipe_id", "text", "Recipe scheduled"),
        ("planned_start", TS, f"Planned start, {UTC}"),
        ("planned_end", TS, f"Planned end, {UTC}"),
        ("planned_quantity", "integer", "Quantity planned, pieces"),
        ("status", "text", "Schedule status in the MES, e.g. scheduled"),
        SOURCE_SYSTEM,
        ("updated_at", TS, f"Last change of the row, {UTC}"),
    ),
    _dataset(
        "mes_order_status_pushes",
        "The status and quantity last sent back to the MES per work order.",
        ORG,
        ("work_order_id", "text", "Work order"),
        ("mes_system", "text", "MES the status was sent to"),
        ("status", "text", "Status sent"),
        ("actual_quantity", "integer", "Good quantity sent, pieces"),
        ("pushed_at", TS, f"When it was sent, {UTC}"),
        RUN,
    ),
    _dataset(
        "mes_schedule_sync",
        "Audit trail: one row per MES / ERP sync of one entity.",
        ("sync_id", "bigint", "Row id"),
        ORG,
        ("mes_system", "text", "Source system read"),
        ("entity", "text", "Table synced, e.g. work_orders"),
        ("line_id", "text", "Line the sync was narrowed to (NULL: all)"),
        ("sync_timestamp", TS, f"When the sync started, {UTC}"),
        ("range_start", TS, f"Start of the sync window, {UTC}"),
        ("range_end", TS, f"End of the sync window, {UTC}"),
        ("records_fetched", "integer", "Number of records the source sent"),
        ("records_created", "integer", "Number of rows inserted"),
        ("records_updated", "integer", "Number of rows updated"),
        ("records_rejected", "integer", "Number of malformed records rejected"),
        ("sync_status", "text", "RUNNING, SUCCESS, PARTIAL or FAILED"),
        ("error_message", "text", "Why the sync failed"),
        ("errors", "jsonb", "Each rejected record and its reason"),
        RUN,
    ),
    _dataset(
        "materials",
        "The ERP material master.",
        ("id", "text", "Material id"),
        ORG,
        ("material_number", "text", "Material number in the ERP"),
        ("description", "text", "Material description"),
        ("material_type", "text", "ERP material type, e.g. ROH"),
        ("base_unit", "text", "Unit quantities are counted in"),
        ("unit_cost", "numeric", "Cost per base_unit, in currency"),
        ("currency", "text", "ISO currency of unit_cost"),
        SOURCE_SYSTEM,
        ("updated_at", TS, f"Last change of the row, {UTC}"),
    ),
    _dataset(
        "labor_costs",
        "Labour hours and cost per line, cost centre and day from the ERP.",
        ("id", "bigint", "Row id"),
        ORG,
        ("line_id", "text", "Line"),
        ("cost_center", "text", "ERP cost centre"),
        ("work_date", "date", "Day worked"),
        ("labor_hours", "numeric", "Hours worked, hours"),
        ("hourly_rate", "numeric", "Cost per hour, in currency"),
        ("labor_cost", "numeric", "labor_hours x hourly_rate, in currency"),
        ("currency", "text", "ISO currency of the costs"),
        SOURCE_SYSTEM,
        ("updated_at", TS, f"Last change of the row, {UTC}"),
    ),
    _dataset(
        "material_consumption",
        "Material consumed per work order and material, from the MES.",
        ORG,
        ("work_order_id", "text", "Work order"),
        ("wo_number", "text", "Work order number"),
        ("line_id", "text", "Line of the work order"),
        ("planned_start", TS, f"The work order's planned start, {UTC}"),
        ("material_number", "text", "Material consumed"),
        ("planned_quantity", "numeric", "Quantity planned, in base_unit"),
        ("consumed_quantity", "numeric", "Quantity consumed, in base_unit"),
        ("base_unit", "text", "Unit of the quantities"),
        SOURCE_SYSTEM,
        RUN,
        ("synced_at", TS, f"When the row was written, {UTC}"),
    ),
    _dataset(
        "production_variance",
        "Planned against actual per work order from the ERP: the yield and each component.",
        ORG,
        ("work_order_id", "text", "Work order"),
        ("wo_number", "text", "Work order number"),
        ("line_id", "text", "Line of the work order"),
        ("planned_start", TS, f"The work order's planned start, {UTC}"),
        ("item", "text", "yield, or a component's material number"),
        ("item_type", "text", "yield or material"),
        ("unit", "text", "Unit of the quantities (pieces for the yield)"),
        ("planned_quantity", "numeric", "Quantity planned, in unit"),
        ("actual_quantity", "numeric", "Quantity confirmed or issued, in unit (NULL until the ERP has one)"),
        ("variance_quantity", "numeric", "actual - planned, in unit"),
        ("variance_pct", "numeric", "Variance, percent of planned (NULL where nothing was planned)"),
        SOURCE_SYSTEM,
        RUN,
        ("synced_at", TS, f"When the row was written, {UTC}"),
    ),
    # --- historian, IoT, imports audit ----------------------------------------------------------------
    _dataset(
        "historian_backfill_jobs",
        "Audit trail: one row per historian backfill run and system.",
        ("job_id", "bigint", "Row id"),
        ORG,
        ("historian_system", "text", "pi or aveva"),
        ("tags", "text[]", "Tags read"),
        ("start_time", TS, f"Start of the range backfilled, {UTC}"),
        ("end_time", TS, f"End of the range backfilled, {UTC}"),
        ("job_status", "text", "PENDING, RUNNING, COMPLETED or FAILED"),
        ("points_fetched", "bigint", "Number of points read from the historian"),
        ("points_imported", "bigint", "Number of points written to the lake"),
        ("unmapped_tags", "text[]", "Tags that sent points but have no mapping"),
        ("created_at", TS, f"When the job started, {UTC}"),
        ("completed_at", TS, f"When the job ended, {UTC}"),
        ("error_message", "text", "Why the job failed"),
        RUN,
        ("dagster_backfill_id", "text", "Dagster backfill the run belongs to"),
        ("machine_id", "text", "Machine the backfill was narrowed to (NULL: all)"),
    ),
    _dataset(
        "iot_quarantine",
        "Readings and messages the hourly IoT landing could not turn into telemetry.",
        ("id", "bigint", "Row id"),
        ORG,
        ("hour_start", TS, f"Start of the landed hour, {UTC}"),
        ("reason", "text", "Why it was refused, e.g. unknown sensor"),
        ("source_system", "text", "mqtt or http"),
        ("source_ref", "text", "Topic or URL it came from"),
        ("sensor_id", "text", "Sensor id as sent"),
        ("measurement", "text", "Measurement name as sent"),
        ("raw_value", "text", "Value as sent"),
        ("raw_ts", "text", "Timestamp as sent"),
        ("ts", TS, f"Parsed reading time, {UTC}"),
        ("receive_time", TS, f"When the ingester received it, {UTC}"),
        ("payload", "text", "The raw message"),
        RUN,
        ("quarantined_at", TS, f"When the row was written, {UTC}"),
    ),
    _dataset(
        "import_jobs",
        "Audit trail: one row per imported file.",
        ("job_id", "bigint", "Import job id"),
        ORG,
        ("import_type", "text", "sensor_log, machine_state_log, production_count, downtime or schedule"),
        ("file_name", "text", "File name as dropped"),
        ("checksum", "text", "sha256 of the file content"),
        ("submitted_by", "text", "Who submitted the file"),
        ("rows_read", "integer", "Number of data rows read"),
        ("rows_imported", "integer", "Number of rows landed"),
        ("rows_rejected", "integer", "Number of rows turned away"),
        ("status", "text", "RUNNING, SUCCESS, PARTIAL, REJECTED or FAILED"),
        ("errors", "jsonb", "The first 1,000 problems: row, column, message"),
        ("created_at", TS, f"When the import started, {UTC}"),
        ("completed_at", TS, f"When the import ended, {UTC}"),
        RUN,
        ("error_counts", "jsonb", "Number of problems per kind"),
        ("total_errors", "integer", "Number of problems found"),
        ("total_bad_rows", "integer", "Number of rows with at least one problem"),
    ),
    _dataset(
        "import_rejected_rows",
        "Rows an import with quarantine_invalid did not land.",
        ("id", "bigint", "Row id"),
        ORG,
        ("job_id", "bigint", "Import job"),
        ("row_number", "integer", "Row number the user sees in the file"),
        ("cells", "jsonb", "The cells as written, by column name"),
        ("errors", "text", "Every reason the row was refused"),
    ),
    _dataset(
        "data_quality_alerts",
        "Data quality findings per sensor, rule and UTC hour (telemetry) or per event (other stages).",
        ("id", "bigint", "Row id"),
        ORG,
        ("machine_id", "text", "Machine"),
        ("alert_type", "text", "Rule, e.g. OUT_OF_RANGE, GAP, UNKNOWN_TIME"),
        ("timestamp_utc", TS, f"When it happened (grouped rules: the hour's start), {UTC}"),
        ("metric_name", "text", "Signal or figure checked"),
        ("metric_value", "double precision", "Value found, in the signal's unit"),
        ("expected_min", "double precision", "Lowest expected value, in the signal's unit"),
        ("expected_max", "double precision", "Highest expected value, in the signal's unit"),
        ("severity", "text", "INFO, WARNING or ERROR"),
        ("details", "jsonb", "Rule-specific details"),
        ("partition_date", "date", "UTC day whose run wrote the row"),
        ("acknowledged", "boolean", "True once someone acknowledged it"),
        ("created_at", TS, f"When the row was written, {UTC}"),
        (
            "reading_count",
            "integer",
            "Number of offending readings (OUT_OF_RANGE, DUPLICATE), silences (GAP) or missing readings "
            "(LOW_COMPLETENESS) in the hour",
        ),
        (
            "first_reading_at",
            TS,
            f"First offending reading (GAP: the one before the silence), {UTC}",
        ),
        ("first_value", "double precision", "Value of the first offending reading, in the signal's unit"),
        (
            "last_reading_at",
            TS,
            f"Last offending reading (GAP: the one that ended the silence), {UTC}",
        ),
        ("last_value", "double precision", "Value of the last offending reading, in the signal's unit"),
    ),
    # --- OEE (services/oee/, defs/oee/) ------------------------------------------------------------------
    _dataset(
        "oee_downtime_events",
        "Stops: derived from the machine state (source_system derived) or reported (imports, MES).",
        ("id", "bigint", "Row id"),
        ORG,
        ("machine_id", "text", "Machine"),
        ("line_id", "text", "Line of the machine"),
        ("start_time", TS, f"Start of the stop, {UTC}"),
        ("end_time", TS, f"End of the stop, {UTC} (NULL while it lasts)"),
        ("duration_minutes", "numeric", "Length of the stop, minutes"),
        ("is_planned", "boolean", "True: planned stop (reason code)"),
        ("reason_code", "text", "Reason code of the stop"),
        ("loss_category", "text", "Six-big-loss class of the reason"),
        ("description", "text", "Free text from the reporter"),
        ("operator_id", "text", "Operator who reported it"),
        ("is_resolved", "boolean", "False: the stop has no reason yet"),
        ("source_system", "text", "derived, import, or the reporting system"),
        ("source_ref", "text", "Where it came from: source and tag, file or record"),
        ("created_at", TS, f"When the row was written, {UTC}"),
    ),
    _dataset(
        "oee_snapshots",
        "OEE per machine per 15-minute window (ISO 22400); snapshot_time is the window's end.",
        ("id", "bigint", "Snapshot id"),
        ORG,
        ("machine_id", "text", "Machine"),
        ("line_id", "text", "Line of the machine"),
        ("shift_id", "text", "Shift the window lies in"),
        ("work_order_id", "text", "Work order running in most of the window"),
        ("snapshot_time", TS, f"End of the 15-minute window, {UTC}"),
        ("window_start", TS, f"Start of the window, {UTC}"),
        ("scheduled_time", "numeric", "Overlap of the window with the line's shifts, minutes"),
        ("planned_downtime", "numeric", "Planned stops inside scheduled time, minutes"),
        ("planned_production_time", "numeric", "scheduled_time - planned_downtime, minutes"),
        ("unplanned_downtime", "numeric", "Unplanned stops of at least 120 s, minutes"),
        (
            "actual_production_time",
            "numeric",
            "Run time: planned production time - unplanned_downtime, minutes",
        ),
        ("unknown_time", "numeric", "Planned production time with no machine state, minutes"),
        ("ideal_production_time", "numeric", "Ideal cycle time x pieces, minutes"),
        ("total_pieces", "integer", "Pieces made in the window (good + rejected), pieces"),
        ("good_pieces", "integer", "Good pieces"),
        ("rejected_pieces", "integer", "Rejected pieces"),
        ("availability_pct", "numeric", "Availability, percent (0-100)"),
        ("performance_pct", "numeric", "Performance capped at 100, percent (0-100)"),
        ("performance_raw_pct", "numeric", "Performance uncapped, percent (may exceed 100)"),
        ("quality_pct", "numeric", "Quality: good / total, percent (0-100)"),
        ("oee_pct", "numeric", "OEE = A x P (raw) x Q, percent (NULL when nothing was planned)"),
        ("computed_at", TS, f"When the row was computed, {UTC}"),
        RUN,
        ("shift_date", "date", "Local start date of the shift instance"),
        ("pieces_without_ideal_cycle_time", "integer", "Pieces with no ideal cycle time to value them"),
        ("pieces_outside_schedule", "integer", "Pieces counted outside scheduled time (not in the OEE)"),
        ("performance_above_limit", "boolean", "True: raw performance above the alert limit"),
        ("breakdowns_minutes", "numeric", "Breakdown loss, minutes"),
        ("setup_adjustments_minutes", "numeric", "Setup and adjustment loss, minutes"),
        ("small_stops_minutes", "numeric", "Stops shorter than 120 s, minutes"),
        ("reduced_speed_minutes", "numeric", "Reduced speed loss, minutes (negative when faster than ideal)"),
        ("startup_rejects_minutes", "numeric", "Start-up reject loss, minutes"),
        ("production_rejects_minutes", "numeric", "Production reject loss, minutes"),
        ("source_systems", "text[]", "Source systems of the readings in the window (pi, mqtt, import...)"),
        (
            "ingest_runs",
            "text[]",
            "Ingest runs of the readings in the window: Dagster run ids, import-<job_id>",
        ),
    ),
    _dataset(
        "shift_reports",
        "Per line and shift instance: time-weighted OEE and factors, pieces, top downtime reasons.",
        ("id", "bigint", "Row id"),
        ORG,
        ("line_id", "text", "Line"),
        ("shift_id", "text", "Shift"),
        ("shift_date", "date", "Local start date of the shift instance"),
        ("shift_start", TS, f"Start of the shift instance, {UTC}"),
        ("shift_end", TS, f"End of the shift instance, {UTC}"),
        ("planned_production_time", "numeric", "Planned production time of the line's machines, minutes"),
        ("actual_production_time", "numeric", "Run time of the line's machines, minutes"),
        ("total_pieces", "integer", "Pieces made (good + rejected), pieces"),
        ("good_pieces", "integer", "Good pieces"),
        ("rejected_pieces", "integer", "Rejected pieces"),
        ("availability_pct", "numeric", "Availability, time-weighted, percent (0-100)"),
        ("performance_pct", "numeric", "Performance capped at 100, percent (0-100)"),
        ("quality_pct", "numeric", "Quality, percent (0-100)"),
        ("oee_pct", "numeric", "OEE, percent (0-100)"),
        ("downtime_minutes", "numeric", "Derived downtime inside the shift, minutes"),
        ("top_downtime_reasons", "jsonb", "Reasons with the most downtime: code, class, minutes"),
        ("operator_ids", "text[]", "Operators on the line during the shift"),
        ("status", "text", "draft until the shift ended and every machine sent data to its end, then final"),
        ("computed_at", TS, f"When the row was computed, {UTC}"),
        ("performance_raw_pct", "numeric", "Performance uncapped, percent (may exceed 100)"),
    ),
    _dataset(
        "oee_losses",
        "The six big losses per machine, shift instance and UTC day, reason codes beneath each.",
        ("id", "bigint", "Row id"),
        ORG,
        ("day", "date", "UTC day the minutes lie in"),
        ("machine_id", "text", "Machine"),
        ("line_id", "text", "Line of the machine"),
        ("shift_id", "text", "Shift"),
        ("shift_date", "date", "Local start date of the shift instance"),
        ("loss_category", "text", "fully_productive, one of the six big losses, or unknown"),
        ("oee_factor", "text", "productive, availability, performance, quality or unknown"),
        ("reason_category", "text", "The reason code's category (stop losses)"),
        ("reason_code", "text", "Reason code (stop losses)"),
        ("reason_name", "text", "Reason name (stop losses)"),
        (
            "minutes",
            "double precision",
            "Time lost (or productive), minutes (reduced_speed: < 0 if faster)",
        ),
        ("occurrences", "integer", "Number of stops of this reason in the shift (NULL for piece losses)"),
        ("pieces", "bigint", "Pieces valued (rejects and fully productive rows)"),
        ("computed_at", TS, f"When the row was computed, {UTC}"),
        RUN,
    ),
    # --- API ---------------------------------------------------------------------------------------------
    _dataset(
        "api_keys",
        "API keys (only their hash is stored).",
        ("id", "bigint", "Row id"),
        ORG,
        ("name", "text", "Name given to the key"),
        ("key_prefix", "text", "First characters of the key, to recognise it"),
        ("key_hash", "text", "Hash of the key"),
        ("created_at", TS, f"When the key was created, {UTC}"),
        ("revoked_at", TS, f"When the key was revoked, {UTC}"),
        ("last_used_at", TS, f"Last request with the key, {UTC}"),
        ("scope", "text", "read or admin"),
        ("expires_at", TS, f"When the key expires, {UTC} (NULL: never)"),
    ),
    _dataset(
        "api_run_requests",
        "Runs requested through the API, turned into Dagster runs by api_run_requests_sensor.",
        ("id", "uuid", "Request id (the run key)"),
        ("seq", "bigint", "Order of arrival"),
        ORG,
        ("job_name", "text", "Dagster job requested"),
        ("run_config", "jsonb", "Run config of the run"),
        ("tags", "jsonb", "Tags of the run"),
        ("requested_by", "text", "API key name that asked"),
        ("requested_at", TS, f"When it was asked, {UTC}"),
        ("run_id", "text", "Dagster run launched (NULL until then)"),
        ("submitted_at", TS, f"When the run was launched, {UTC}"),
    ),
)

_MART_COLUMNS = {
    "snapshot_id": "Snapshot id (oee_snapshots.id)",
    "snapshot_time": f"End of the 15-minute window, {UTC}",
    "org_id": "Organization (tenant) id",
    "machine_id": "Machine",
    "machine_name": "Machine name",
    "machine_code": "The plant's own code of the machine",
    "line_id": "Line",
    "line_name": "Line name",
    "shift_id": "Shift",
    "shift_name": "Shift name",
    "work_order_id": "Work order running in most of the window",
    "wo_number": "Work order number",
    "product_name": "Product of the work order",
    "oee_pct": "OEE, percent (NULL when nothing was planned)",
    "availability_pct": "Availability, percent (0-100)",
    "performance_pct": "Performance capped at 100, percent (0-100)",
    "quality_pct": "Quality, percent (0-100)",
    "total_pieces": "Pieces made (good + rejected), pieces",
    "good_pieces": "Good pieces",
    "rejected_pieces": "Rejected pieces",
    "planned_production_time": "Planned production time, minutes",
    "actual_production_time": "Run time, minutes",
    "downtime_minutes": "Derived downtime overlapping the window, minutes",
    "planned_downtime_minutes": "Planned part of downtime_minutes, minutes",
    "unplanned_downtime_minutes": "Unplanned part of downtime_minutes, minutes",
    "window_start": f"Start of the window, {UTC}",
    "shift_date": "Local start date of the shift instance",
    "scheduled_time": "Overlap of the window with the line's shifts, minutes",
    "unknown_time": "Planned production time with no machine state, minutes",
    "ideal_production_time": "Ideal cycle time x pieces, minutes",
    "performance_raw_pct": "Performance uncapped, percent (may exceed 100)",
    "breakdowns_minutes": "Breakdown loss, minutes",
    "setup_adjustments_minutes": "Setup and adjustment loss, minutes",
    "small_stops_minutes": "Stops shorter than 120 s, minutes",
    "reduced_speed_minutes": "Reduced speed loss, minutes (negative when faster than ideal)",
    "startup_rejects_minutes": "Start-up reject loss, minutes",
    "production_rejects_minutes": "Production reject loss, minutes",
    "wo_material_planned_cost": "The work order's planned material cost, in the materials' currency",
    "wo_material_consumed_cost": "The work order's consumed material cost (MES), in the materials' currency",
    "wo_material_variance_cost": "The work order's material variance cost (ERP), in the materials' currency",
    "wo_yield_variance_quantity": "The work order's yield variance (ERP), pieces",
    "wo_yield_variance_pct": "The work order's yield variance, percent of planned",
    "source_systems": "Source systems of the readings the snapshot was computed from (lineage)",
    "ingest_runs": "Ingest runs that landed those readings: Dagster run ids, import-<job_id> (lineage)",
}


_MART_TEXT = {"org_id", "machine_id", "machine_name", "machine_code", "line_id", "line_name", "shift_id"}
_MART_TEXT |= {"shift_name", "work_order_id", "wo_number", "product_name"}


def _mart_type(name: str, measure: str) -> str:
    """The mart's column types: the view keeps the warehouse's numerics, the table holds doubles."""
    if name in _MART_TEXT:
        return "text"
    if name in ("source_systems", "ingest_runs"):
        return "text[]"
    if name.endswith("_pieces"):
        return "integer"
    special = {"snapshot_id": "bigint", "snapshot_time": TS, "window_start": TS, "shift_date": "date"}
    return special.get(name, measure)


def _mart(name: str, location: Location, measure: str, description: str) -> Dataset:
    columns = [(column, _mart_type(column, measure), text) for column, text in _MART_COLUMNS.items()]
    if location is Location.TABLE:
        columns.append(("refreshed_at", TS, f"When the day was last refreshed, {UTC}"))
    return _dataset(name, description, *columns, location=location)


MART_VIEW = _mart(
    "oee_data_mart",
    Location.VIEW,
    "numeric",
    "Each snapshot joined with its machine, line, shift, work order and product, with its downtime "
    "minutes and its work order's material figures (ad-hoc SQL; BI reads oee_data_mart_table).",
)
MART_TABLE = _mart(
    "oee_data_mart_table",
    Location.TABLE,
    "double precision",
    "The OEE data mart as an indexed table: one row per snapshot, denormalized, refreshed per day.",
)

_TELEMETRY_COLUMNS = {
    "org_id": "Organization (tenant) id",
    "site_id": "Site of the machine",
    "line_id": "Line of the machine",
    "machine_id": "Machine",
    "signal": "machine_state, pieces_good, pieces_rejected, or a process signal (temperature, ...)",
    "ts": f"When the reading was taken, {UTC}",
    "value": "The number, in unit (machine_state: 1 running, 0 not; pieces_*: pieces since the last reading)",
    "text_value": "machine_state: RUNNING or the reason code of the stop",
    "unit": "Unit of value, e.g. degC, bar, pieces",
    "quality": "Reading quality score 0-100: 100 good, 50 questionable, 0 bad",
    "source_system": "pi, aveva, mqtt, http, import or simulator",
    "source_ref": "Tag, topic, URL or file the reading came from",
    "ingest_run_id": "Dagster run (or import job) that landed the reading",
}
_CONTEXT_COLUMNS = {
    "schedule_ref": "MES schedule entry active at ts",
    "work_order_id": "Work order active at ts",
    "wo_number": "Work order number",
    "product_id": "Product made at ts",
    "recipe_id": "Recipe run at ts",
    "recipe_version": "Recipe version",
    "planned_quantity": "The schedule entry's planned quantity, pieces",
    "schedule_status": "Status of the schedule entry",
    "target_cycle_time_s": "Target cycle time, seconds per piece",
    "ideal_cycle_time_s": "Ideal cycle time (machine, else product, else recipe), seconds per piece",
    "shift_id": "Shift at ts",
    "shift_number": "Number of the shift in the day",
    "shift_date": "Local start date of the shift instance",
    "operator_id": "Operator on the line at ts",
    "operator_role": "That operator's role",
}


def _arrow_dataset(name: str, description: str, schema: pa.Schema, texts: dict[str, str]) -> Dataset:
    """A lake dataset from its Arrow schema: a column the texts do not describe gets an empty one (a test
    failure), so the catalog follows the schema the writers use."""
    columns = [(field.name, str(field.type), texts.get(field.name, "")) for field in schema]
    return _dataset(name, description, *columns, location=Location.LAKE)


TELEMETRY = _arrow_dataset(
    "telemetry",
    "Every reading of every source in one schema: telemetry/source=<system>/date=YYYY-MM-DD/*.parquet.",
    TELEMETRY_SCHEMA,
    _TELEMETRY_COLUMNS,
)
ENRICHED_TELEMETRY = _arrow_dataset(
    "enriched_telemetry",
    "The day's cleaned readings with their production context as of ts: enriched_telemetry/date=YYYY-MM-DD/.",
    pa.schema([*TELEMETRY_SCHEMA, *(pa.field(name, kind) for name, kind in CONTEXT_FIELDS.items())]),
    {**_TELEMETRY_COLUMNS, **_CONTEXT_COLUMNS},
)

# What the assets with no table of their own report per materialization.
PLANT_MODEL_SITES = _dataset(
    "plant_model_sites",
    "The plant model applied, one row per site (the plant_model asset's preview).",
    ("org_id", "text", "Organization (tenant) id"),
    ("site", "text", "Site id"),
    ("name", "text", "Site name"),
    ("timezone", "text", "IANA time zone of the site"),
    ("lines", "integer", "Number of lines at the site"),
    ("machines", "integer", "Number of machines at the site"),
    ("shifts", "integer", "Number of shifts in the site's calendar"),
    location=Location.REPORT,
)
REFERENCE_TEMPLATE_IMPORTS = _dataset(
    "reference_template_imports",
    "One reference-data template file imported from the inbox (the reference_templates asset's metadata).",
    ("type", "text", "Template type: machines, shifts, products_cycle_times, reason_codes, ..."),
    ("status", "text", "SUCCESS, or REJECTED with every bad row named"),
    ("rows_read", "integer", "Number of data rows read"),
    ("errors", "json", "The first 20 problems: row, column, message"),
    ("moved_to", "text", "Where the file went: processed/ or rejected/"),
    ("rows_changed", "integer", "Number of plant-model rows the import changed"),
    location=Location.REPORT,
)

DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        *WAREHOUSE,
        MART_VIEW,
        MART_TABLE,
        TELEMETRY,
        ENRICHED_TELEMETRY,
        PLANT_MODEL_SITES,
        REFERENCE_TEMPLATE_IMPORTS,
    )
}


def dataset(name: str) -> Dataset:
    """The catalog entry of a table, view, lake dataset or report, by name (KeyError names it)."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"no dataset {name!r} in oee_pipelines/storage/catalog.py") from None


def warehouse_datasets() -> list[Dataset]:
    return [entry for entry in DATASETS.values() if entry.location in (Location.TABLE, Location.VIEW)]


_COMMENTS = """
SELECT c.relname, a.attname, col_description(c.oid, a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'p')
UNION ALL
SELECT c.relname, NULL, obj_description(c.oid, 'pg_class')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'p')
"""


def apply_comments(conn: psycopg.Connection[Any]) -> int:
    """Write the catalog's descriptions as PostgreSQL comments on the warehouse's tables, views and
    columns (what BI tools show), where they differ; returns how many were written. A table or column
    the warehouse does not have is left out (the catalog test names it)."""
    current: dict[tuple[str, str | None], str | None] = {
        (table, column): comment for table, column, comment in conn.execute(_COMMENTS).fetchall()
    }
    statements = []
    for entry in warehouse_datasets():
        table = sql.Identifier(entry.name)
        if (entry.name, None) in current and current[(entry.name, None)] != entry.description:
            kind = sql.SQL("VIEW" if entry.location is Location.VIEW else "TABLE")
            statements.append(
                sql.SQL("COMMENT ON {} {} IS {}").format(kind, table, sql.Literal(entry.description))
            )
        for column in entry.columns:
            key = (entry.name, column.name)
            if key in current and current[key] != column.description:
                statements.append(
                    sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                        table, sql.Identifier(column.name), sql.Literal(column.description)
                    )
                )
    with conn.transaction():
        for statement in statements:
            conn.execute(statement)
    return len(statements)
