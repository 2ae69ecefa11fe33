"""Published files: one file per organization, table, day and format, written atomically, and a manifest.

Layout under the published folder (`Settings.published_dir`):

    <org_id>/<table>/<table>_<YYYY-MM-DD>.<csv|parquet|xlsx|json>
    <org_id>/manifest.json        that organization's files (safe to share with it)
    manifest.json                 every organization's files
    .manifest/<org_id>/<table>/<YYYY-MM-DD>.json   one fragment per run of a table and day

A file is written under a temporary name in its own folder, flushed to disk and renamed over the old
one, so a reader sees the old file or the new one, never half a file. Each run writes the fragment of
the days it published and then rebuilds both manifests from every fragment under an exclusive lock,
so concurrent runs of different days or tables never lose each other's entries.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from oee_pipelines.exports.columns import ExportTable
from oee_pipelines.exports.writers import ExportFormat, export_stream

PUBLISHED_FORMATS = (ExportFormat.CSV, ExportFormat.PARQUET, ExportFormat.XLSX, ExportFormat.JSON)
MANIFEST_NAME = "manifest.json"
FRAGMENTS_FOLDER = ".manifest"
_LOCK_NAME = ".manifest.lock"


@dataclass(frozen=True)
class PublishedFile:
    """One manifest entry. `path` is relative to the published folder, with `/` separators."""

    path: str
    org_id: str
    table: str
    day: str
    format: str
    rows: int
    bytes: int
    sha256: str
    period_start: str
    period_end: str
    first_time: str | None
    last_time: str | None
    published_at: str


@dataclass(frozen=True)
class DayExport:
    """The rows of one organization's table for one day, and what the day's window was."""

    org_id: str
    name: str
    table: ExportTable
    day: date
    rows: pa.Table
    time_column: str
    period_start: datetime
    period_end: datetime


def file_name(name: str, day: date, export_format: ExportFormat) -> str:
    return f"{name}_{day.isoformat()}.{export_format.value}"


def write_atomically(target: Path, chunks: Iterable[bytes]) -> tuple[int, str]:
    """Write `chunks` to `target` through a temporary file and a rename; return (bytes, sha256)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    digest = hashlib.sha256()
    size = 0
    try:
        with temporary.open("wb") as file:
            for chunk in chunks:
                file.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return size, digest.hexdigest()


def _iso(value: datetime | date | None) -> str | None:
    if value is not None and not isinstance(value, datetime):  # a day column: its UTC midnight
        value = datetime.combine(value, datetime.min.time(), tzinfo=UTC)
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _time_bounds(rows: pa.Table, column: str) -> tuple[str | None, str | None]:
    if rows.num_rows == 0:
        return None, None
    bounds = pc.min_max(rows.column(column))
    return _iso(bounds["min"].as_py()), _iso(bounds["max"].as_py())


def publish_day(
    root: Path, export: DayExport, formats: Iterable[ExportFormat] = PUBLISHED_FORMATS
) -> list[PublishedFile]:
    """Write the day's files (replacing those of an earlier run) and its manifest fragment."""
    first_time, last_time = _time_bounds(export.rows, export.time_column)
    published_at = _iso(datetime.now(UTC))
    entries = []
    for export_format in formats:
        relative = Path(export.org_id, export.name, file_name(export.name, export.day, export_format))
        chunks = export_stream(export_format, export.table, export.rows.to_batches())
        size, checksum = write_atomically(root / relative, chunks)
        entries.append(
            PublishedFile(
                path=relative.as_posix(), org_id=export.org_id, table=export.name,
                day=export.day.isoformat(), format=export_format.value, rows=export.rows.num_rows,
                bytes=size, sha256=checksum, period_start=_iso(export.period_start) or "",
                period_end=_iso(export.period_end) or "", first_time=first_time, last_time=last_time,
                published_at=published_at or "",
            )
        )  # fmt: skip
    fragment = root / FRAGMENTS_FOLDER / export.org_id / export.name / f"{export.day.isoformat()}.json"
    write_atomically(fragment, [_json_bytes([asdict(entry) for entry in entries])])
    return entries


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode() + b"\n"


@contextmanager
def _manifest_lock(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / _LOCK_NAME).open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _fragment_entries(root: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for fragment in sorted((root / FRAGMENTS_FOLDER).glob("*/*/*.json")):
        entries.extend(json.loads(fragment.read_text()))
    return sorted(entries, key=lambda entry: (entry["org_id"], entry["table"], entry["day"], entry["format"]))


def _manifest(entries: list[dict[str, Any]], generated_at: str) -> dict[str, Any]:
    return {"generated_at": generated_at, "file_count": len(entries), "files": entries}


def rebuild_manifests(root: Path) -> dict[str, Any]:
    """Rewrite `manifest.json` (every organization) and `<org_id>/manifest.json` from the fragments."""
    with _manifest_lock(root):
        entries = _fragment_entries(root)
        generated_at = _iso(datetime.now(UTC)) or ""
        manifest = _manifest(entries, generated_at)
        write_atomically(root / MANIFEST_NAME, [_json_bytes(manifest)])
        for org_id in sorted({entry["org_id"] for entry in entries}):
            # Paths in an organization's own manifest are relative to its folder.
            own = [{**e, "path": e["path"].split("/", 1)[1]} for e in entries if e["org_id"] == org_id]
            write_atomically(root / org_id / MANIFEST_NAME, [_json_bytes(_manifest(own, generated_at))])
    return manifest


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST_NAME
    return json.loads(path.read_text()) if path.exists() else _manifest([], "")
