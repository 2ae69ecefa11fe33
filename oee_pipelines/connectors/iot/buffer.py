"""The durable local buffer between IoT sources and the lake: append-only segment files on disk.

A writer (the MQTT ingester, the HTTP poller) owns the files carrying its name:

- `seg-<writer>-<created_ns>.open`: the segment being appended to; renamed to `.seg` when closed
  (rotated by size or age). A lander only reads `.seg` files; the name says when it was opened.
- `quarantine-<writer>.log`: messages refused at intake, with the reason, same record format.
- `<writer>.lock`: held (flock) while the writer runs, so two processes never share a segment.

Every record is `<body length, crc32(body)>` + body; the body is `<receive_ns, source, topic length,
reason length>` + topic + reason + payload. A crash can only leave a torn or unsynced tail in an
`.open` segment: `recover_open_segments` truncates it at the first bad record and closes the segment.
Nothing unsynced was acknowledged to the source, so the source sends it again.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

RECORD_HEADER = struct.Struct("<II")
BODY_HEADER = struct.Struct("<qBHH")
SOURCE_CODES = {"mqtt": 0, "http": 1}
SOURCE_NAMES = {code: name for name, code in SOURCE_CODES.items()}
OPEN_SUFFIX = ".open"
CLOSED_SUFFIX = ".seg"
MAX_REASON_BYTES = 1000
# Appends collect in memory up to this size before a write(2): one call per many messages, not per message.
WRITE_BUFFER_BYTES = 1024 * 1024
_SEGMENT_NAME = re.compile(r"^seg-(?P<writer>.+)-(?P<created_ns>\d{20})\.(?:open|seg)$")


class BufferLockedError(RuntimeError):
    """Another process is already writing with this writer name in this buffer directory."""


@dataclass
class RecordColumns:
    """Decoded records as parallel lists (cheaper than one object per record for millions of them)."""

    receive_ns: list[int] = field(default_factory=list)
    source_system: list[str] = field(default_factory=list)
    topic: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)
    payload: list[bytes] = field(default_factory=list)
    valid_bytes: int = 0

    def __len__(self) -> int:
        return len(self.payload)


def writer_name_for(client_id: str) -> str:
    """A file-name-safe writer name derived from a client id."""
    return re.sub(r"[^A-Za-z0-9_.]", "_", client_id) or "writer"


def encode_record(receive_ns: int, source_system: str, topic: str, payload: bytes, reason: str = "") -> bytes:
    topic_bytes = topic.encode()
    reason_bytes = reason.encode()[:MAX_REASON_BYTES]
    head = (
        BODY_HEADER.pack(receive_ns, SOURCE_CODES[source_system], len(topic_bytes), len(reason_bytes))
        + topic_bytes
        + reason_bytes
    )
    # The payload is copied once (into the record), and checksummed in place rather than as a body copy.
    checksum = zlib.crc32(payload, zlib.crc32(head))
    return b"".join((RECORD_HEADER.pack(len(head) + len(payload), checksum), head, payload))


def decode_records(data: bytes) -> RecordColumns:
    """Decode records until the end or the first torn/corrupt one; `valid_bytes` says where that is."""
    columns = RecordColumns()
    view = memoryview(data)
    offset, end = 0, len(data)
    header_size, body_header_size = RECORD_HEADER.size, BODY_HEADER.size
    while offset + header_size <= end:
        body_length, checksum = RECORD_HEADER.unpack_from(data, offset)
        body_start = offset + header_size
        body_end = body_start + body_length
        if (
            body_length < body_header_size
            or body_end > end
            or zlib.crc32(view[body_start:body_end]) != checksum
        ):
            break
        receive_ns, source_code, topic_length, reason_length = BODY_HEADER.unpack_from(data, body_start)
        topic_start = body_start + body_header_size
        reason_start = topic_start + topic_length
        payload_start = reason_start + reason_length
        columns.receive_ns.append(receive_ns)
        columns.source_system.append(SOURCE_NAMES[source_code])
        columns.topic.append(data[topic_start:reason_start].decode())
        columns.reason.append(data[reason_start:payload_start].decode() if reason_length else "")
        columns.payload.append(data[payload_start:body_end])
        offset = body_end
    columns.valid_bytes = offset
    return columns


def read_records(path: Path) -> RecordColumns:
    return decode_records(path.read_bytes())


@dataclass(frozen=True)
class SegmentName:
    writer: str
    created_ns: int
    is_open: bool


def parse_segment_name(path: Path) -> SegmentName | None:
    match = _SEGMENT_NAME.match(path.name)
    if match is None:
        return None
    return SegmentName(match["writer"], int(match["created_ns"]), path.suffix == OPEN_SUFFIX)


def closed_segments(buffer_dir: Path) -> list[Path]:
    return sorted(buffer_dir.glob(f"seg-*{CLOSED_SUFFIX}"))


def open_segments(buffer_dir: Path) -> list[Path]:
    return sorted(buffer_dir.glob(f"seg-*{OPEN_SUFFIX}"))


def quarantine_files(buffer_dir: Path) -> list[Path]:
    return sorted(buffer_dir.glob("quarantine-*.log"))


def fsync_directory(folder: Path) -> None:
    """Make a created or renamed directory entry durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_descriptors(descriptors: list[int]) -> None:
    for descriptor in descriptors:
        os.fsync(descriptor)


def recover_open_segments(buffer_dir: Path, writer: str) -> list[Path]:
    """Close the `.open` segments a dead writer left: cut the unsynced tail, drop empty ones."""
    recovered = []
    for path in open_segments(buffer_dir):
        name = parse_segment_name(path)
        if name is None or name.writer != writer:
            continue
        valid_bytes = read_records(path).valid_bytes
        if valid_bytes == 0:
            path.unlink()
            continue
        with path.open("r+b") as handle:
            handle.truncate(valid_bytes)
            handle.flush()
            os.fsync(handle.fileno())
        closed = path.with_suffix(CLOSED_SUFFIX)
        path.rename(closed)
        recovered.append(closed)
    _truncate_quarantine_tail(buffer_dir / f"quarantine-{writer}.log")
    fsync_directory(buffer_dir)
    return recovered


def _truncate_quarantine_tail(path: Path) -> None:
    if not path.exists():
        return
    valid_bytes = read_records(path).valid_bytes
    if valid_bytes != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(valid_bytes)
            os.fsync(handle.fileno())


class BufferWriter:
    """Appends records for one writer: the current segment and the quarantine log.

    `append` and `quarantine` only write to the OS; `sync` makes everything appended so far durable
    (flush + fsync), and only after it returns may the caller acknowledge those messages.
    """

    def __init__(
        self,
        buffer_dir: Path,
        writer: str,
        *,
        segment_max_bytes: int = 64 * 1024 * 1024,
        segment_max_seconds: float = 60.0,
    ) -> None:
        self.buffer_dir = buffer_dir
        self.writer = writer
        self.segment_max_bytes = segment_max_bytes
        self.segment_max_seconds = segment_max_seconds
        buffer_dir.mkdir(parents=True, exist_ok=True)
        self._lock_handle = (buffer_dir / f"{writer}.lock").open("a")
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_handle.close()
            raise BufferLockedError(f"buffer {buffer_dir} is already being written by {writer!r}") from None
        self.recovered = recover_open_segments(buffer_dir, writer)
        self._segment_path: Path | None = None
        self._segment: BinaryIO | None = None
        self._segment_created = 0.0
        self._segment_bytes = 0
        self._quarantine = (buffer_dir / f"quarantine-{writer}.log").open("ab")
        self._dirty = False

    def append(self, record: bytes) -> None:
        if self._segment is None:
            self._open_segment()
        assert self._segment is not None
        self._segment.write(record)
        self._segment_bytes += len(record)
        self._dirty = True

    def quarantine(self, record: bytes) -> None:
        self._quarantine.write(record)
        self._dirty = True

    def sync(self) -> None:
        fsync_descriptors(self.flush())

    def flush(self) -> list[int]:
        """Hand everything appended so far to the OS; the descriptors to fsync before acknowledging it.

        The two halves of `sync`, so a caller can fsync without holding the lock its appends take
        (a group commit): appends made while the fsync runs are simply part of the next one. Only the
        thread that rotates segments may fsync the returned descriptors.
        """
        if not self._dirty:
            return []
        descriptors = []
        for handle in (self._segment, self._quarantine):
            if handle is not None:
                handle.flush()
                descriptors.append(handle.fileno())
        self._dirty = False
        return descriptors

    def rotate_if_due(self) -> None:
        """Close the current segment once it is big or old enough (call after `sync`)."""
        if self._segment is None:
            return
        too_big = self._segment_bytes >= self.segment_max_bytes
        too_old = time.monotonic() - self._segment_created >= self.segment_max_seconds
        if too_big or too_old:
            self.close_segment()

    def close_segment(self) -> None:
        if self._segment is None or self._segment_path is None:
            return
        self.sync()
        self._segment.close()
        self._segment_path.rename(self._segment_path.with_suffix(CLOSED_SUFFIX))
        fsync_directory(self.buffer_dir)
        self._segment = None
        self._segment_path = None

    def close(self) -> None:
        self.close_segment()
        self.sync()
        self._quarantine.close()
        fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
        self._lock_handle.close()

    def _open_segment(self) -> None:
        # Opened lazily on the first record: an idle writer has no open segment holding hours back.
        self._segment_path = self.buffer_dir / f"seg-{self.writer}-{time.time_ns():020d}{OPEN_SUFFIX}"
        self._segment = self._segment_path.open("xb", buffering=WRITE_BUFFER_BYTES)
        fsync_directory(self.buffer_dir)
        self._segment_created = time.monotonic()
        self._segment_bytes = 0
