"""Publishing files: atomic replacement, checksums, and manifests that concurrent runs never lose."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from oee_pipelines.exports.columns import SNAPSHOTS
from oee_pipelines.exports.publish import (
    PUBLISHED_FORMATS,
    DayExport,
    publish_day,
    read_manifest,
    rebuild_manifests,
    write_atomically,
)


class WriterFailedError(RuntimeError):
    pass


def test_a_failure_mid_write_leaves_the_previous_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "day.csv"
    write_atomically(target, [b"old,file\n", b"1,2\n"])
    seen_while_writing: list[bytes] = []

    def failing_chunks() -> Iterator[bytes]:
        yield b"new,file\n"
        seen_while_writing.append(target.read_bytes())  # what a reader sees meanwhile
        yield b"3,4\n"
        raise WriterFailedError("disk full")

    with pytest.raises(WriterFailedError):
        write_atomically(target, failing_chunks())
    assert seen_while_writing == [b"old,file\n1,2\n"]
    assert target.read_bytes() == b"old,file\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["day.csv"]  # no temporary file left behind


def test_the_checksum_and_size_are_those_of_the_file(tmp_path: Path) -> None:
    size, checksum = write_atomically(tmp_path / "a" / "b.bin", [b"abc", b"", b"def"])
    assert (size, checksum) == (6, hashlib.sha256(b"abcdef").hexdigest())


def day_export(org_id: str, day: date) -> DayExport:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    times = [start + timedelta(minutes=15 * (i + 1)) for i in range(4)]
    rows = pa.table(
        {
            "snapshot_time": pa.array(times, pa.timestamp("us", tz="UTC")),
            "machine_id": ["M1"] * 4,
            "machine_name": ["=cmd|' /C calc'!A0", "+1", "Filler", None],
            "oee_pct": [85.5, None, 0.0, 100.0],
            "availability_pct": [90.0] * 4,
            "performance_pct": [95.0] * 4,
            "quality_pct": [100.0] * 4,
            "shift_id": ["SHIFT-1"] * 4,
        },
        schema=SNAPSHOTS.arrow_schema,
    )
    return DayExport(
        org_id, "oee_snapshots", SNAPSHOTS, day, rows, "snapshot_time", start, start + timedelta(days=1)
    )


def test_concurrent_runs_of_different_days_all_reach_the_manifest(tmp_path: Path) -> None:
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(8)]

    def publish(day: date) -> None:
        publish_day(tmp_path, day_export("acme", day))
        rebuild_manifests(tmp_path)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(publish, days))
    files = read_manifest(tmp_path)["files"]
    assert len(files) == len(days) * len(PUBLISHED_FORMATS)
    assert {entry["day"] for entry in files} == {day.isoformat() for day in days}
    assert all(entry["rows"] == 4 for entry in files)


def test_republishing_a_day_replaces_its_entries(tmp_path: Path) -> None:
    publish_day(tmp_path, day_export("acme", date(2025, 1, 1)))
    publish_day(tmp_path, day_export("globex", date(2025, 1, 1)))
    first = rebuild_manifests(tmp_path)
    publish_day(tmp_path, day_export("acme", date(2025, 1, 1)))
    second = rebuild_manifests(tmp_path)
    assert second["file_count"] == first["file_count"] == 2 * len(PUBLISHED_FORMATS)
    assert [e["path"] for e in second["files"]] == [e["path"] for e in first["files"]]
    globex = json.loads((tmp_path / "globex" / "manifest.json").read_text())["files"]
    assert {e["org_id"] for e in globex} == {"globex"} and globex[0]["path"].startswith("oee_snapshots/")


def test_published_csv_neutralises_formulas(tmp_path: Path) -> None:
    publish_day(tmp_path, day_export("acme", date(2025, 1, 1)))
    text = (tmp_path / "acme" / "oee_snapshots" / "oee_snapshots_2025-01-01.csv").read_text()
    assert "\"'=cmd|' /C calc'!A0\"" in text and '"\'+1"' in text and '"Filler"' in text
