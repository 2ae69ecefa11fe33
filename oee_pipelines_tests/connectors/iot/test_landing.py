"""The buffer on disk and landing by hour: crash recovery, bucketing, completeness, late readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pytest

from oee_pipelines.connectors.iot import landing
from oee_pipelines.connectors.iot.buffer import (
    BufferLockedError,
    BufferWriter,
    closed_segments,
    open_segments,
    read_records,
)
from oee_pipelines.connectors.iot.intake import MessageIntake
from oee_pipelines.connectors.iot.landing import hour_status, mark_landed
from oee_pipelines.services.iot import land_hour

TEN = datetime(2025, 1, 13, 10, tzinfo=UTC)
ELEVEN = TEN + timedelta(hours=1)
LATER = datetime(2030, 1, 1, tzinfo=UTC)
TOPIC = "factory/MACHINE-001/temperature"


def reading(moment: datetime, value: float) -> bytes:
    return orjson.dumps({"sensor_id": "TEMP-M001", "temperature": value, "timestamp": moment.isoformat()})


def write(
    buffer_dir: Path, *payloads: bytes, close: bool = True, receive_at: datetime | None = None
) -> BufferWriter:
    writer = BufferWriter(buffer_dir, "writer")
    intake = MessageIntake(writer)
    received = int(receive_at.timestamp() * 1e9) if receive_at else None
    for payload in payloads:
        intake.accept("mqtt", TOPIC, payload, received)
    writer.sync()
    if close:
        writer.close()
    return writer


def test_readings_are_bucketed_by_their_own_timestamp(tmp_path, sensors) -> None:
    write(tmp_path, reading(TEN + timedelta(minutes=59), 1.0), reading(ELEVEN + timedelta(minutes=1), 2.0))
    assert hour_status(tmp_path, now=LATER).complete == [TEN, ELEVEN]
    telemetry, _, stats = land_hour(tmp_path, TEN, sensors)
    assert telemetry.column("value").to_pylist() == [1.0]
    assert stats.readings == 2 and stats.telemetry_rows == 1
    telemetry, _, _ = land_hour(tmp_path, ELEVEN, sensors)
    assert telemetry.column("value").to_pylist() == [2.0]


def test_an_hour_is_not_complete_while_an_open_segment_holds_its_readings(tmp_path) -> None:
    writer = write(tmp_path, reading(TEN, 1.0), close=False)
    assert hour_status(tmp_path, now=LATER).complete == []
    writer.close()
    assert hour_status(tmp_path, now=LATER).complete == [TEN]


def test_an_hour_that_has_not_ended_is_not_complete(tmp_path) -> None:
    write(tmp_path, reading(TEN, 1.0))
    assert hour_status(tmp_path, now=TEN + timedelta(minutes=30)).complete == []


def test_late_readings_reopen_a_landed_hour(tmp_path, sensors) -> None:
    write(tmp_path, reading(TEN, 1.0))
    _, _, stats = land_hour(tmp_path, TEN, sensors)
    mark_landed(tmp_path, TEN, stats.segments)
    status = hour_status(tmp_path, now=LATER)
    assert (status.landed, status.late, status.to_land) == ([TEN], [], [])

    write(tmp_path, reading(TEN + timedelta(minutes=5), 2.0), reading(TEN, 1.0))  # late, plus a redelivery
    status = hour_status(tmp_path, now=LATER)
    assert status.late == [TEN] and status.to_land == [TEN]
    telemetry, _, stats = land_hour(tmp_path, TEN, sensors)
    assert sorted(telemetry.column("value").to_pylist()) == [1.0, 2.0]
    assert stats.duplicates_removed == 1
    mark_landed(tmp_path, TEN, stats.segments)
    assert hour_status(tmp_path, now=LATER).late == []


def test_intake_quarantine_is_reported_in_the_hour_it_was_received(tmp_path, sensors) -> None:
    write(tmp_path, b"not json", reading(TEN, 1.0), receive_at=TEN + timedelta(minutes=1))
    _, quarantine, _ = land_hour(tmp_path, TEN, sensors)
    assert quarantine["reason"].str.startswith("malformed JSON").tolist() == [True]
    assert quarantine["payload"].tolist() == ["not json"]
    _, quarantine, _ = land_hour(tmp_path, ELEVEN, sensors)
    assert quarantine.empty


def test_a_torn_tail_left_by_a_crash_is_cut_and_the_segment_closed(tmp_path, sensors) -> None:
    writer = write(tmp_path, reading(TEN, 1.0), reading(TEN + timedelta(seconds=1), 2.0), close=False)
    [segment] = open_segments(tmp_path)
    intact_size = segment.stat().st_size
    with segment.open("ab") as handle:
        handle.write(b"\x40\x00\x00\x00\x01\x02 half a record")
    writer._lock_handle.close()  # the process died: the kernel drops its lock

    recovered = BufferWriter(tmp_path, "writer")
    recovered.close()
    [closed] = closed_segments(tmp_path)
    assert recovered.recovered == [closed]
    assert closed.stat().st_size == intact_size
    assert len(read_records(closed)) == 2
    telemetry, _, _ = land_hour(tmp_path, TEN, sensors)
    assert telemetry.num_rows == 2


def test_two_processes_cannot_write_as_the_same_writer(tmp_path) -> None:
    writer = BufferWriter(tmp_path, "writer")
    try:
        with pytest.raises(BufferLockedError):
            BufferWriter(tmp_path, "writer")
        BufferWriter(tmp_path, "another-writer").close()
    finally:
        writer.close()


def test_landing_a_time_that_is_not_an_hour_start_is_refused(tmp_path, sensors) -> None:
    with pytest.raises(ValueError, match="not the start of an hour"):
        land_hour(tmp_path, TEN + timedelta(minutes=1), sensors)


def test_an_empty_buffer_lands_an_empty_table(tmp_path, sensors) -> None:
    telemetry, quarantine, stats = land_hour(tmp_path, TEN, sensors)
    assert (telemetry.num_rows, len(quarantine), stats.segments) == (0, 0, [])
    assert isinstance(quarantine, pd.DataFrame)


def test_a_segment_indexed_then_read_is_decoded_once(tmp_path, monkeypatch) -> None:
    write(tmp_path, reading(TEN + timedelta(minutes=5), 1.0), reading(ELEVEN + timedelta(minutes=5), 2.0))
    write(tmp_path, reading(ELEVEN + timedelta(minutes=7), 3.0))
    first, second = closed_segments(tmp_path)
    decoded: list[str] = []

    def counting_read_records(path: Path):  # the real decoder, counted
        decoded.append(path.name)
        return read_records(path)

    monkeypatch.setattr(landing, "read_records", counting_read_records)
    source = landing.BufferSource(tmp_path)
    assert source.segments_holding(TEN) == [first]  # indexes both segments: each decoded once
    assert sorted(decoded) == sorted([first.name, second.name])
    # The last segment indexed is kept for a read of it alone; any other read decodes.
    readings = source.read([second])
    assert len(decoded) == 2 and readings.raw["value"].tolist() == [3.0]
    assert source.read([first]).raw["value"].tolist() == [1.0, 2.0] and len(decoded) == 3
    assert source.read([second]).raw["value"].tolist() == [3.0] and len(decoded) == 4
    # The index beside each segment now answers without decoding, in a new source too.
    assert landing.BufferSource(tmp_path).segments_holding(ELEVEN) == [first, second]
    assert len(decoded) == 4
    fresh = landing.decode_segments([second])
    assert readings.messages == fresh.messages == 1
    pd.testing.assert_frame_equal(readings.raw, fresh.raw)
    pd.testing.assert_series_equal(readings.reading_hours, fresh.reading_hours)
