"""Plant model fixtures: the brief's example file, and a fingerprint of every plant table (row count and
checksum) to show that something changed nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from oee_pipelines.services.plant import PLANT_TABLES

EXAMPLE_FILE = Path(__file__).resolve().parent / "plant_model_example.yaml"


def example_text() -> str:
    return EXAMPLE_FILE.read_text(encoding="utf-8")


def fingerprint(database_url: str, tables: tuple[str, ...] = PLANT_TABLES) -> dict[str, tuple[int, str]]:
    """(rows, md5 of every row in a fixed order) per table: equal before and after means unchanged."""
    result = {}
    with psycopg.connect(database_url) as conn:
        for table in tables:
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM {} t"
                ).format(sql.Identifier(table))
            ).fetchone()
            assert row is not None
            result[table] = (int(row[0]), str(row[1]))
    return result
