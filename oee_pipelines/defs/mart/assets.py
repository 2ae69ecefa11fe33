"""`oee_data_mart`: the BI table `oee_data_mart_table`, refreshed per day from the `oee_data_mart` view.

The view (sql/054) joins each snapshot with its machine, line, shift, work order and product and the
work order's material figures. BI tools and exports read months of it, so this asset copies a day's
rows into a table indexed for their filters, with `double precision` measures, in one transaction
(delete the day, insert it again). The view stays for ad-hoc SQL. In the same step it writes the days'
lake copy (`services/mart/lake_copy.py`), which the API's data-mart export reads when it is current.
"""

import dagster as dg
import pyarrow as pa
from psycopg import sql

from oee_pipelines.defs.metadata import column_schema, table_metadata
from oee_pipelines.defs.oee.assets import oee_figures
from oee_pipelines.defs.oee.automation import rebuild_on_late_data
from oee_pipelines.defs.owners import owners_of
from oee_pipelines.defs.partitions import daily_backfill_policy, daily_partitions, partition_days
from oee_pipelines.domain.days import day_bounds
from oee_pipelines.resources.lake import LakeResource
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.mart.lake_copy import write_mart_days
from oee_pipelines.services.oee.inputs import numbers_as_floats

MART_TABLE = "oee_data_mart_table"
MART_VIEW = "oee_data_mart"


def mart_columns(warehouse: WarehouseResource) -> list[str]:
    """The table's columns that the view provides (the table adds `refreshed_at`)."""
    frame = warehouse.query_frame(
        """SELECT column_name FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position""",
        (MART_VIEW,),
    )
    return list(frame["column_name"])


def refresh_day(warehouse: WarehouseResource, columns: list[str], start: object, end: object) -> int:
    """Replace the mart rows of windows ending in (start, end]; returns the rows inserted."""
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    in_range = sql.SQL("snapshot_time > %s AND snapshot_time <= %s")
    with warehouse.connect() as conn, conn.transaction():
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE ").format(sql.Identifier(MART_TABLE)) + in_range, (start, end)
        )
        inserted = conn.execute(
            sql.SQL("INSERT INTO {t} ({c}) SELECT {c} FROM {v} WHERE ").format(
                t=sql.Identifier(MART_TABLE), c=names, v=sql.Identifier(MART_VIEW)
            )
            + in_range,
            (start, end),
        ).rowcount
    return inserted


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=daily_backfill_policy(),
    group_name="oee",
    owners=owners_of("oee"),
    kinds={"postgres", "parquet"},
    metadata=column_schema(MART_TABLE),
    # + the day's work order figures (sql/051). Not the unpartitioned `erp_materials` (unit costs):
    # its 15-minute syncs would make `rebuild_on_late_data` rebuild every day built so far.
    deps=[
        "oee_snapshots",
        "shift_reports",
        "material_consumption",
        "production_variance",
    ],
    automation_condition=rebuild_on_late_data(),
    description="The OEE data mart as an indexed table (one row per snapshot, denormalized, with its "
    "downtime minutes and work order figures), refreshed per day for BI tools and exports.",
)
def oee_data_mart(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, lake: LakeResource
) -> dg.MaterializeResult:
    columns = mart_columns(warehouse)
    days = partition_days(context)
    start, end = day_bounds(days[0])[0], day_bounds(days[-1])[1]
    rows = sum(refresh_day(warehouse, columns, *day_bounds(day)) for day in days)
    with warehouse.connect() as conn:
        lake_rows = write_mart_days(conn, lake.lake(), days)
    mart = numbers_as_floats(
        warehouse.query_frame(
            sql.SQL("SELECT * FROM {} WHERE snapshot_time > %s AND snapshot_time <= %s").format(
                sql.Identifier(MART_TABLE)
            ),
            (start, end),
        )
    )
    extra = {
        "dagster/row_count": rows,
        "lake_copy_rows": lake_rows,
        "downtime_minutes": round(float(mart["downtime_minutes"].sum()), 2) if rows else 0.0,
        **(
            oee_figures(mart.assign(performance_above_limit=False, pieces_without_ideal_cycle_time=0))
            if rows
            else {}
        ),
    }
    return dg.MaterializeResult(
        metadata=table_metadata(
            pa.Table.from_pandas(mart, preserve_index=False),
            schema=MART_TABLE,
            time_column="snapshot_time",
            extra=extra,
        )
    )
