"""`StreamedDay`: a system-day written to the lake part by part while its pages are still being pulled,
replacing the folder in one step; and the backfill writing a multi-day range that way, day by day."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oee_pipelines.domain.tag_mapping import COMPACT_TELEMETRY_SCHEMA
from oee_pipelines.domain.telemetry import TELEMETRY_SCHEMA
from oee_pipelines.resources.historian import HistorianServerConfig
from oee_pipelines.resources.warehouse import WarehouseResource
from oee_pipelines.services.historian import day_parts
from oee_pipelines.services.historian.backfill import HistorianBackfill
from oee_pipelines.services.historian.day_parts import StreamedDay, telemetry_folder
from oee_pipelines.services.historian.run_tags import BackfillRequest
from oee_pipelines.simulator.servers.point_source import HistorianLogin
from oee_pipelines.storage.lake import Lake
from oee_pipelines_tests.support.historian import Historians
from oee_pipelines_tests.support.historian_fixtures import historians, mapped_warehouse, plant

__all__ = ["historians", "mapped_warehouse", "plant"]

DAY = date(2025, 1, 14)
FOLDER = telemetry_folder("pi", DAY)


def page(first: int, count: int) -> pa.Table:
    """`count` telemetry rows of tag T<first>.., values first..first+count-1, one second apart."""
    start = datetime(2025, 1, 14, tzinfo=UTC)
    rows = [
        {
            "org_id": "demo",
            "site_id": "SITE-01",
            "line_id": "LINE-001",
            "machine_id": "MACHINE-001",
            "signal": "temperature",
            "ts": start + timedelta(seconds=number),
            "value": float(number),
            "text_value": None,
            "unit": "C",
            "quality": 100,
            "source_system": "pi",
            "source_ref": f"T{number % 3}",
            "ingest_run_id": "run-1",
        }
        for number in range(first, first + count)
    ]
    return pa.Table.from_pylist(rows, schema=TELEMETRY_SCHEMA)


def part_rows(lake: Lake, folder: str) -> list[int]:
    return [pq.ParquetFile(path).metadata.num_rows for path in lake.list_files(folder)]


def staged_files(lake: Lake, folder: str) -> list[Path]:
    return sorted(Path(lake.path(folder)).glob(".staging-*/*.parquet"))


def test_parts_reach_the_disk_while_later_pages_are_still_unread(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    staged_when_pulled: list[int] = []

    def pages() -> Iterator[pa.Table]:
        for first in range(0, 25, 4):  # 7 pages: 4 rows each, the last 1 row
            staged_when_pulled.append(len(staged_files(lake, FOLDER)))
            yield page(first, min(4, 25 - first))

    streamed = StreamedDay(pages(), part_rows=10)
    lake.replace_folder(FOLDER, streamed)

    # Parts of 10 rows were written as soon as they filled, before the pages after them were pulled.
    assert staged_when_pulled == [0, 0, 0, 1, 1, 2, 2]
    assert part_rows(lake, FOLDER) == [10, 10, 5]
    written = lake.read_folder(FOLDER, TELEMETRY_SCHEMA)
    assert written.schema == TELEMETRY_SCHEMA
    assert written.column("value").to_pylist() == [float(number) for number in range(25)]
    assert written.column("source_ref").to_pylist() == [f"T{number % 3}" for number in range(25)]
    assert staged_files(lake, FOLDER) == []
    assert (streamed.rows, streamed.parts_written) == (25, 3)
    assert streamed.preview.column("value").to_pylist() == [float(number) for number in range(10)]
    assert streamed.first_ts == datetime(2025, 1, 14, tzinfo=UTC)
    assert streamed.last_ts == datetime(2025, 1, 14, 0, 0, 24, tzinfo=UTC)


def test_a_page_that_fails_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.replace_folder(FOLDER, {"part-00000.parquet": page(100, 3)})

    def pages() -> Iterator[pa.Table]:
        yield page(0, 10)  # a whole part, already written to the staging folder
        yield page(10, 4)
        raise RuntimeError("the historian went away")

    with pytest.raises(RuntimeError, match="went away"):
        lake.replace_folder(FOLDER, StreamedDay(pages(), part_rows=10))

    assert part_rows(lake, FOLDER) == [3]
    assert lake.read_folder(FOLDER, TELEMETRY_SCHEMA).column("value").to_pylist() == [100.0, 101.0, 102.0]
    assert staged_files(lake, FOLDER) == []


def test_a_day_without_points_is_one_empty_part(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    lake.replace_folder(FOLDER, {"part-00000.parquet": page(0, 3), "part-00001.parquet": page(3, 3)})

    streamed = StreamedDay(iter([COMPACT_TELEMETRY_SCHEMA.empty_table()]))
    lake.replace_folder(FOLDER, streamed)

    assert part_rows(lake, FOLDER) == [0]
    assert pq.read_schema(lake.list_files(FOLDER)[0]).remove_metadata() == TELEMETRY_SCHEMA
    assert (streamed.rows, streamed.first_ts, streamed.last_ts) == (0, None, None)


class NotingLake(Lake):
    """A real lake that notes, for each part it writes, the PI requests the server had seen by then."""

    def __init__(self, root: str, historians: Historians) -> None:
        super().__init__(root)
        self.historians = historians
        self.notes: list[tuple[str, str, int]] = []

    def replace_folder(self, relative_folder: str, files: Mapping[str, pa.Table]) -> list[str]:
        lake = self

        class Noting(Mapping[str, pa.Table]):
            def __iter__(self) -> Iterator[str]:
                return iter(files)

            def __len__(self) -> int:
                return len(files)

            def __contains__(self, name: object) -> bool:
                return name in files

            def __getitem__(self, name: str) -> pa.Table:
                seen = lake.historians.pi.switches.requests_seen
                lake.notes.append((relative_folder, name, seen))
                return files[name]

        return super().replace_folder(relative_folder, Noting())


def test_a_multi_day_backfill_streams_each_day_into_its_folder_part_by_part(
    historians: Historians,
    mapped_warehouse: WarehouseResource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(day_parts, "PART_ROWS", 300)
    login = HistorianLogin()
    small_pages = HistorianServerConfig(
        base_url=historians.pi_url + "/piwebapi",
        data_server="PISRV01",
        max_count=100,
        tags_per_request=2,
        concurrency=1,
        username=login.username,
        password=login.password,
    )
    lake = NotingLake(str(tmp_path / "lake"), historians)
    days = [date(2025, 1, 13), date(2025, 1, 14)]
    backfill = HistorianBackfill(
        historians.resource(pi=small_pages),
        mapped_warehouse.connect,
        lake,
        BackfillRequest(system="pi"),
        "run-1",
        logging.getLogger("test"),
    )
    plans = backfill.plan(days)
    results = []
    requests_after_day = []
    for day in days:
        results.append(backfill.run_day(day, plans))
        requests_after_day.append(historians.pi.switches.requests_seen)
    backfill.close(plans, None)

    for day, result, requests_after in zip(days, results, requests_after_day, strict=True):
        assert result.error is None
        folder = telemetry_folder("pi", day)
        notes = [seen for noted_folder, _, seen in lake.notes if noted_folder == folder]
        rows = part_rows(lake, folder)
        # Several parts of 300 rows, the first written while the day's later pages were still to come.
        assert len(rows) >= 3 and rows[:-1] == [300] * (len(rows) - 1)
        assert sum(rows) == result.rows_written == result.points_imported["pi"] > 0
        assert notes[0] < requests_after
        written = lake.read_folder(folder, TELEMETRY_SCHEMA)
        assert written.schema == TELEMETRY_SCHEMA
        assert {ts.date() for ts in written.column("ts").to_pylist()} == {day}
    # Day by day: the first day's folder was written before the second day's pages were asked for.
    first_day = [seen for folder, _, seen in lake.notes if folder == telemetry_folder("pi", days[0])]
    second_day = [seen for folder, _, seen in lake.notes if folder == telemetry_folder("pi", days[1])]
    assert max(first_day) <= requests_after_day[0] < min(second_day)
