"""Published export files: per UTC day, per organization, each table as CSV, Parquet, XLSX and JSON.

One asset per table, named `published_<table>`, each depending on the asset whose day it publishes,
each built with the publish deadline (02:30 UTC: `defs/monitoring/freshness.py`): its freshness policy,
and a `published_by_deadline` check run by the `publish_deadline_checks` schedule.
A run writes `<published>/<org_id>/<table>/<table>_<day>.<format>` for every organization and day of
its partition range (one single run for a ranged backfill), then rebuilds the manifests. Files keep
stable names, so a rebuilt day replaces its files and adds none.
"""

import warnings
from datetime import date
from typing import Any

import dagster as dg
import pyarrow as pa

from oee_pipelines.defs.exports.automation import publish_after_upstream_rebuilt
from oee_pipelines.defs.metadata import column_schema, preview_markdown
from oee_pipelines.defs.monitoring.freshness import publish_deadline_checks, publish_deadline_policy
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions, partition_days
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.exports.daily import (
    PUBLISHED_TABLES,
    PublishedTable,
    hourly_telemetry,
    organizations,
    warehouse_day,
)
from oee_pipelines.exports.publish import DayExport, PublishedFile
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.published import PublishedFilesResource
from oee_pipelines.resources.warehouse import WarehouseResource

EXPORTS_GROUP = "exports"
# The asset each published table is built from (by key: the OEE stage owns those assets).
UPSTREAM_ASSETS = {
    "oee_snapshots": "oee_snapshots",
    "oee_downtime_events": "oee_downtime_events",
    "shift_reports": "shift_reports",
    "oee_data_mart": "oee_data_mart",
    "telemetry_hourly": "enriched_telemetry",
    "material_consumption": "material_consumption",
    "production_variance": "production_variance",
    "oee_losses": "oee_losses",
}


def export_asset_key(published: PublishedTable) -> dg.AssetKey:
    return dg.AssetKey(f"published_{published.name}")


def _day_exports(
    published: PublishedTable, day: date, warehouse: WarehouseResource, lake: LakeResource
) -> list[DayExport]:
    start, end = day_bounds(day)
    with warehouse.connect() as conn:
        org_ids = organizations(conn)
        if published.from_lake:
            tables = hourly_telemetry(lake.lake(), day, org_ids)
        else:
            tables = {org_id: warehouse_day(conn, published, org_id, day) for org_id in org_ids}
    return [
        DayExport(org_id, published.name, published.table, day, rows, published.time_column, start, end)
        for org_id, rows in tables.items()
    ]


def _files_markdown(files: list[PublishedFile]) -> dg.MarkdownMetadataValue:
    lines = ["| file | rows | sha256 |", "|---|---:|---|"]
    lines += [f"| {entry.path} | {entry.rows:,} | `{entry.sha256[:12]}` |" for entry in files]
    return dg.MetadataValue.md("\n".join(lines))


def _metadata(
    published: PublishedTable, files: list[PublishedFile], preview: pa.Table | None, root: str
) -> dict[str, Any]:
    one_format = [entry for entry in files if entry.format == "parquet"]
    shown = published.table.arrow_schema.empty_table() if preview is None else preview
    return {
        "dagster/row_count": sum(entry.rows for entry in one_format),
        **column_schema(published.table),
        "files": len(files),
        "published_folder": dg.MetadataValue.path(root),
        "published_files": _files_markdown(files),
        "preview": preview_markdown(shown),
    }


def build_export_asset(published: PublishedTable) -> dg.AssetsDefinition:
    """The export asset of one table, with the publish deadline's freshness policy."""
    with warnings.catch_warnings():
        # Freshness policies are a Dagster preview; the choice is documented in `freshness.py`.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _export_asset(published)


def _export_asset(published: PublishedTable) -> dg.AssetsDefinition:
    @dg.asset(
        key=export_asset_key(published),
        group_name=EXPORTS_GROUP,
        owners=owners_of(EXPORTS_GROUP),
        metadata=column_schema(published.table),
        partitions_def=daily_partitions,
        backfill_policy=daily_backfill_policy(),  # the same days per run as the chain it publishes
        deps=[dg.AssetKey(UPSTREAM_ASSETS[published.name])],
        automation_condition=publish_after_upstream_rebuilt(),
        freshness_policy=publish_deadline_policy,
        kinds={"csv", "parquet", "xlsx"},
        description=f"{published.description}: daily files for BI tools (CSV, Parquet, XLSX, JSON).",
    )
    def export_asset(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        lake: LakeResource,
        published_files: PublishedFilesResource,
    ) -> dg.MaterializeResult:
        files: list[PublishedFile] = []
        preview: pa.Table | None = None
        for day in partition_days(context):
            for export in _day_exports(published, day, warehouse, lake):
                files += published_files.publish(export)
                if preview is None and export.rows.num_rows:
                    preview = export.rows
        manifest = published_files.rebuild_manifests()
        context.log.info(f"{published.name}: {len(files)} files; the manifest lists {manifest['file_count']}")
        return dg.MaterializeResult(metadata=_metadata(published, files, preview, published_files.root))

    return export_asset


export_assets = [build_export_asset(published) for published in PUBLISHED_TABLES]


@dg.definitions
def exports() -> dg.Definitions:
    """The export assets with their `published_by_deadline` checks, the checks' job and schedule.

    (A module with a `@dg.definitions` function is loaded through it alone, hence the assets here.)
    """
    return dg.Definitions.merge(dg.Definitions(assets=export_assets), publish_deadline_checks(export_assets))
