"""What `oee demo` prints at the end: rows per table, OEE per line, where the outputs are."""

from __future__ import annotations

from datetime import date

import psycopg

from oee_pipelines.exports.publish import read_manifest
from oee_pipelines.settings import Settings

SUMMARY_TABLES = [
    "organizations", "sites", "production_lines", "machines", "shifts", "products", "recipes",
    "work_orders", "production_schedules", "materials", "labor_costs", "iot_sensors",
    "historian_tag_mappings", "oee_downtime_events", "data_quality_alerts", "oee_snapshots",
    "shift_reports", "import_jobs", "mes_schedule_sync", "historian_backfill_jobs",
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


def print_summary(url: str, settings: Settings, first: date, last: date) -> None:
    with psycopg.connect(url) as conn:
        print(f"\nwarehouse rows (organization {settings.org_id}):")
        for table in SUMMARY_TABLES:
            count = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # names from the list above
            print(f"  {table:<26} {count:>10,}")
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
    _print_published(settings)
    print("\noutputs:")
    print(f"  lake       {settings.lake_root}")
    print(f"  published  {settings.published_dir}")
    print(f"  warehouse  {url}")
