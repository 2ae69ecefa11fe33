"""The short CI version of the fault suite: the scenarios that take seconds (and the one-minute
last-good-data run over every source), each losing nothing.

The others (source down, API load, WebSocket fan-out, IoT kill) run in `make reliability`; the IoT
kill is also `oee_pipelines_tests/connectors/iot/test_zero_loss.py` at 20,000 readings.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pyarrow as pa
import pytest

from oee_pipelines.storage.lake import Lake
from reliability.scenarios import lake_disk_full, last_good_data, postgres_restart
from reliability.scenarios.lake_disk_full import readings, simulated_full_disk


def test_postgres_restart_mid_write_loses_nothing_and_shows_no_partial_rows() -> None:
    result = postgres_restart.run(short=True)
    assert result.lost == []
    assert result.figures["attempts"] >= 2  # the restart really hit the write
    assert result.figures["final partition"] == "v2: 200,000 rows"


def test_a_full_lake_disk_fails_every_write_and_keeps_the_earlier_files() -> None:
    result = lake_disk_full.run(short=True)
    assert result.lost == []
    assert result.figures["earlier files changed or missing"] == 0
    assert result.figures["temporary files left"] == 0


def test_the_simulated_full_disk_behaves_like_the_real_one(tmp_path: Path) -> None:
    """The fallback used where tmpfs cannot be mounted: ENOSPC past 1 MiB, nothing left behind."""
    lake = Lake(str(tmp_path))
    with simulated_full_disk(tmp_path):
        lake.write_file("small.parquet", readings(1_000, seed=1))
        with pytest.raises(OSError) as raised:
            lake.write_file("small.parquet", readings(200_000, seed=2))
    assert raised.value.errno == errno.ENOSPC
    assert sorted(path.name for path in tmp_path.iterdir()) == ["small.parquet"]
    assert lake.read_folder("").num_rows == 1_000
    assert isinstance(lake.read_folder(""), pa.Table)


def test_a_fault_mid_partition_keeps_the_last_good_data_of_every_source() -> None:
    """MES, ERP, PI, AVEVA, MQTT landing, inbox: the earlier rows stay and are served; the retry completes."""
    result = last_good_data.run(short=True)
    assert result.lost == []
    assert result.figures["sources"] == 6
    assert result.figures["rows lost (all sources)"] == 0
    assert result.figures["duplicates (all sources)"] == 0
    assert result.figures["API 5xx during the faults"] == 0
