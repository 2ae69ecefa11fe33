"""What `oee demo` prints at the end: rows per table, OEE per line, the simulator's injected faults
and the checks that caught them, where the outputs are."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import psycopg

from oee_pipelines.domain.injected_faults import MANIFEST_FILE, fault_lines, injected_totals
from oee_pipelines.exports.publish import read_manifest
from oee_pipelines.services.oee.losses import six_loss_summary
from oee_pipelines.settings import Settings

SUMMARY_TABLES = [
    "organizations", "sites", "production_lines", "machines", "shifts", "products", "recipes",
    "work_orders", "production_schedules", "materials", "labor_costs", "iot_sensors",
    "historian_tag_mappings", "oee_downtime_events", "data_quality_alerts", "oee_snapshots",
    "shift_reports", "import_jobs", "mes_schedule_sync", "historian_backfill_jobs",
    "material_consumption", "production_variance",
]  # fmt: skip


def _print_published(settings: Settings) -> None:
    manifest = read_manifest(settings.published_dir)
    if not manifest["files"]:
        return
    tables = sorted({(entry["org_id"], entry["table"]) for entry in manifest["files"]})
    days = sorted({entry["day"] for entry in manifest["files"]})
    count = manifest["file_count"]
    print(f"\npublished files, {days[0]} .. {days[-1]} ({count} files: csv, parquet, xlsx, json):")
    for org_id, table in tables:
        print(f"  {settings.published_dir / org_id / table}")
    print(f"  manifest   {settings.published_dir / 'manifest.json'}")


def _print_injected_faults(conn: psycopg.Connection, settings: Settings, first: date, last: date) -> None:
    """The simulator's own faults beside the alerts that found them (only if the demo simulated the plant)."""
    path = settings.data_dir / MANIFEST_FILE
    if settings.sources.origin or not path.is_file():
        return  # real source systems: no manifest, nothing is known to be injected
    injected = injected_totals(json.loads(path.read_text()), first, last)
    rows = conn.execute(
        """SELECT alert_type, count(*), COALESCE(sum(reading_count), 0) FROM data_quality_alerts
           WHERE org_id = %s AND partition_date BETWEEN %s AND %s GROUP BY alert_type""",
        (settings.org_id, first, last),
    ).fetchall()
    lines = fault_lines(injected, {alert_type: (int(n), int(readings)) for alert_type, n, readings in rows})
    if lines:
        print(
            f"\nfaults the simulator injected, {first} .. {last} ({path.name}), "
            "and the checks that caught them:"
        )
        for line in lines:
            print(f"  {line}")


def _print_six_losses(url: str, settings: Settings, first: date, last: date) -> None:
    """The loss tree per line beside its OEE: fully productive time + six losses + unknown = planned time."""
    with psycopg.connect(url) as conn:
        lines = six_loss_summary(conn, settings.org_id, first, last)
    if lines.empty:
        return
    columns = {
        "planned": "planned_production_time", "productive": "fully_productive_minutes",
        "breakdown": "breakdowns_minutes", "setup": "setup_adjustments_minutes",
        "small": "small_stops_minutes", "speed": "reduced_speed_minutes",
        "startup": "startup_rejects_minutes", "rejects": "production_rejects_minutes",
        "unknown": "unknown_minutes",
    }  # fmt: skip
    print(f"\nsix big losses per line, {first} .. {last} (minutes; they add up to planned production time):")
    print(f"  {'line':<18} {'OEE':>7} " + " ".join(f"{title:>10}" for title in columns) + f" {'diff':>6}")
    for _, row in lines.iterrows():
        oee = "n/a" if pd.isna(row["oee_pct"]) else f"{row['oee_pct']:5.2f} %"
        figures = " ".join(f"{row[column]:10.1f}" for column in columns.values())
        print(f"  {row['line_name']:<18} {oee:>7} {figures} {row['difference']:6.2f}")


def print_summary(url: str, settings: Settings, first: date, last: date) -> None:
    with psycopg.connect(url) as conn:
        print(f"\nwarehouse rows (organization {settings.org_id}):")
        for table in SUMMARY_TABLES:
            # The table names come from the list above, never from input.
            (count,) = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone() or (0,)
            print(f"  {table:<26} {count:>10,}")
        _print_injected_faults(conn, settings, first, last)
        lines = conn.execute(
            """SELECT line_name,
                      100.0 * SUM(oee_pct / 100.0 * planned_production_time)
                            / NULLIF(SUM(planned_production_time) FILTER (WHERE oee_pct IS NOT NULL), 0)
               FROM oee_data_mart
               WHERE org_id = %s AND snapshot_time > %s AND snapshot_time <= %s::date + 1
               GROUP BY line_name ORDER BY line_name""",
            (settings.org_id, first, last),
        ).fetchall()
    if lines:
        print(f"\nOEE per line, {first} .. {last} (time-weighted):")
        for line_name, oee in lines:
            print(f"  {line_name:<26} {'n/a' if oee is None else f'{oee:6.2f} %'}")
    _print_six_losses(url, settings, first, last)
    _print_published(settings)
    print("\noutputs:")
    print(f"  lake       {settings.lake_root}")
    print(f"  published  {settings.published_dir}")
    print(f"  warehouse  {url}")
