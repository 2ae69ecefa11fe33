"""The published loss tree: `published_oee_losses` writes each organization's rows of the day, per format."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from oee_pipelines.defs.exports.assets import export_asset_key, export_assets
from oee_pipelines.exports.columns import LOSSES
from oee_pipelines.exports.daily import PUBLISHED_TABLES
from oee_pipelines_tests.support.loss_rows import ACME_DAY_ONE_MINUTES, insert_loss_rows

DAY = "2025-01-02"


def test_the_days_loss_tree_is_published_per_organization(
    resources: dict[str, object], warehouse_url: str, published_root: Path
) -> None:
    insert_loss_rows(warehouse_url)
    published = next(p for p in PUBLISHED_TABLES if p.name == "oee_losses")
    asset = next(a for a in export_assets if a.key == export_asset_key(published))
    assert dg.materialize([asset], resources=resources, partition_key=DAY).success
    folder = published_root / "acme" / "oee_losses"
    rows = list(csv.DictReader(io.StringIO((folder / f"oee_losses_{DAY}.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == LOSSES.column_names
    assert {row["day"] for row in rows} == {DAY}  # the 2025-01-03 row is the next day's file
    assert sum(float(row["minutes"]) for row in rows) == ACME_DAY_ONE_MINUTES
    table = pq.read_table(folder / f"oee_losses_{DAY}.parquet")
    assert table.schema == LOSSES.arrow_schema and table.num_rows == 8
    globex = pq.read_table(published_root / "globex" / "oee_losses" / f"oee_losses_{DAY}.parquet")
    assert globex.column("reason_code").to_pylist() == ["Globex-STOP"]
    entries = json.loads((published_root / "manifest.json").read_text())["files"]
    mine = [e for e in entries if e["table"] == "oee_losses" and e["org_id"] == "acme"]
    assert {e["format"] for e in mine} == {"csv", "json", "parquet", "xlsx"} and {
        e["rows"] for e in mine
    } == {8}
    # A day column's bounds in the manifest are its UTC midnight.
    assert {(e["first_time"], e["last_time"]) for e in mine} == {
        ("2025-01-02T00:00:00Z", "2025-01-02T00:00:00Z")
    }
