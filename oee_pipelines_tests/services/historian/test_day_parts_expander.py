"""`Expander`: a compact telemetry page expanded to `TELEMETRY_SCHEMA` with its one-text columns taken
from a cached array gives the values, the chunks and the Parquet bytes of `page.cast(TELEMETRY_SCHEMA)`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from oee_pipelines.connectors.historian.points import points_table
from oee_pipelines.domain.tag_mapping import COMPACT_TELEMETRY_SCHEMA, TagMapper
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.services.historian import day_parts
from oee_pipelines.services.historian.day_parts import Expander, StreamedDay, telemetry_folder
from oee_pipelines.storage.lake import Lake, TableStream

T0_US = int(datetime(2025, 1, 14, tzinfo=UTC).timestamp()) * 1_000_000
TAGS = ["T1", "T2", "T3", "S1"]


def mappings() -> pd.DataFrame:
    """T1, T2: one org, site, line and unit, two machines; T3: another site, no line; S1: a state tag."""
    rows = [
        ("T1", "SITE-01", "LINE-001", "MACHINE-001", "temperature", "C"),
        ("T2", "SITE-01", "LINE-001", "MACHINE-002", "temperature", "C"),
        ("T3", "SITE-02", None, "MACHINE-003", "pressure", "bar"),
        ("S1", "SITE-01", "LINE-001", "MACHINE-001", "machine_state", None),
    ]
    return pd.DataFrame(
        {
            "historian_system": "pi",
            "historian_tag": [row[0] for row in rows],
            "org_id": "demo",
            "site_id": [row[1] for row in rows],
            "line_id": [row[2] for row in rows],
            "machine_id": [row[3] for row in rows],
            "signal_type": [row[4] for row in rows],
            "unit": [row[5] for row in rows],
            "scale_factor": 0.1,
            "offset_value": 0.0,
            "counter_mode": "none",
            "counter_rollover": np.nan,
        }
    )


def raw_page(tags: list[str], first: int, count: int) -> pa.Table:
    """`count` points cycling over `tags`, one second apart from `first`; S1 carries state names."""
    codes = np.arange(count, dtype=np.int32) % len(tags)
    texts = [
        ("RUNNING" if index % 3 else "STOPPED") if tags[code] == "S1" else None
        for index, code in enumerate(codes)
    ]
    quality = np.where(np.arange(count) % 7 == 0, 0, 100).astype(np.int16)
    ts_us = T0_US + (first + np.arange(count, dtype=np.int64)) * 1_000_000
    return points_table(tags, codes, ts_us, np.arange(count, dtype=np.float64), texts, quality)


def compact_pages(run_id: str | None) -> list[pa.Table]:
    """Pages as a backfill maps them: one tag, a constant-text page, mixed pages, pages of every size."""
    mapper = TagMapper(mappings(), "pi", ingest_run_id=run_id)
    shapes = [(["T1"], 5), (["T1", "T2"], 9), (["T3"], 4), (TAGS, 23), (["T1"], 1), (["T2", "S1"], 12)]
    pages, first = [], 0
    for tags, count in shapes:
        pages.append(mapper.map_compact(raw_page(tags, first, count)).telemetry)
        first += count
    return pages


@pytest.mark.parametrize("run_id", ["run-7", None])
def test_expanded_pages_equal_the_cast_pages_chunk_for_chunk(run_id: str | None) -> None:
    expander = Expander()
    for page in compact_pages(run_id):
        assert page.schema.equals(COMPACT_TELEMETRY_SCHEMA)
        expanded, cast = expander.expand(page), page.cast(TELEMETRY_SCHEMA)
        assert expanded.schema.equals(TELEMETRY_SCHEMA, check_metadata=True)
        assert expanded.equals(cast)
        assert [column.num_chunks for column in expanded.columns] == [c.num_chunks for c in cast.columns]
        # and a sliced page (a part's last rows) too
        assert expander.expand(page.slice(1)).equals(page.slice(1).cast(TELEMETRY_SCHEMA))


def test_one_text_columns_come_from_the_cache_and_the_others_are_cast() -> None:
    page = compact_pages("run-7")[1]  # T1 and T2: two machines, everything else one text
    expander = Expander()
    expander.expand(page)
    assert set(expander._repeated) == {"demo", "SITE-01", "LINE-001", "temperature", "C", "pi", "run-7"}


def test_the_cache_grows_to_a_bigger_page_and_a_page_above_the_cap_is_cast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(day_parts, "CACHED_TEXT_ROWS", 16)
    mapper = TagMapper(mappings(), "pi", ingest_run_id="run-7")
    expander = Expander()
    for first, count in [(0, 3), (3, 10), (13, 16), (29, 17), (46, 2)]:
        page = mapper.map_compact(raw_page(["T1"], first, count)).telemetry
        assert expander.expand(page).equals(page.cast(TELEMETRY_SCHEMA))
    assert all(len(repeated) <= 16 for repeated in expander._repeated.values())
    assert len(expander._repeated["demo"]) == 16


def test_a_streamed_day_writes_the_bytes_of_the_cast_pages(tmp_path: Path) -> None:
    pages = compact_pages("run-7") * 3
    folder = telemetry_folder("pi", datetime(2025, 1, 14).date())
    streamed_lake, cast_lake = Lake(str(tmp_path / "streamed")), Lake(str(tmp_path / "cast"))
    streamed = StreamedDay(iter(pages), part_rows=100)
    streamed_lake.replace_folder(folder, streamed)
    # The same parts written from pages cast one by one, as `StreamedDay` did before `Expander`.
    total = sum(page.num_rows for page in pages)
    parts: dict[str, pa.Table | TableStream] = {
        f"part-{index:05d}.parquet": TableStream(TELEMETRY_SCHEMA, _cast_pieces(pages, offset, 100))
        for index, offset in enumerate(range(0, total, 100))
    }
    cast_lake.replace_folder(folder, parts)
    streamed_files = [Path(path).read_bytes() for path in streamed_lake.list_files(folder)]
    cast_files = [Path(path).read_bytes() for path in cast_lake.list_files(folder)]
    assert len(streamed_files) == 2
    assert streamed_files == cast_files


def _cast_pieces(pages: list[pa.Table], offset: int, rows: int) -> list[pa.Table]:
    """Rows offset..offset+rows cut where the pages were cut, each piece cast on its own."""
    bounds = np.cumsum([0] + [page.num_rows for page in pages])
    pieces = []
    for start, stop, page in zip(bounds[:-1], bounds[1:], pages, strict=True):
        low, high = max(start, offset), min(stop, offset + rows)
        if low < high:
            pieces.append(page.slice(low - start, high - low).cast(TELEMETRY_SCHEMA))
    return pieces


def test_the_cache_keeps_the_texts_used_last_within_its_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """One machine per page over many machines: the cache drops the machines used longest ago."""
    monkeypatch.setattr(day_parts, "CACHED_TEXT_BYTES", 2_000)
    machines = [f"MACHINE-{index:03d}" for index in range(40)]
    frame = mappings().iloc[[0] * len(machines)].reset_index(drop=True)
    frame["historian_tag"] = [f"T-{machine}" for machine in machines]
    frame["machine_id"] = machines
    mapper = TagMapper(frame, "pi", ingest_run_id="run-7")
    expander = Expander()
    for index, machine in enumerate(machines):
        page = mapper.map_compact(raw_page([f"T-{machine}"], index * 20, 20)).telemetry
        assert expander.expand(page).equals(page.cast(TELEMETRY_SCHEMA))
        assert sum(cached.nbytes for cached in expander._repeated.values()) <= 2_000
    assert "MACHINE-039" in expander._repeated
    assert "MACHINE-000" not in expander._repeated
