"""`oee bi hyper` shows its progress on stderr (stdout keeps its one result line): the rows read of the
total a Parquet file's footer gives, then that they are being loaded into the extract."""

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from oee_pipelines.cli import main
from oee_pipelines.cli.progress import MODE_VARIABLE
from oee_pipelines.exports.columns import DOWNTIME

ROWS = 5_000


def downtime_parquet(path: Path) -> Path:
    schema = DOWNTIME.arrow_schema
    table = pa.Table.from_arrays([pa.nulls(ROWS, field.type) for field in schema], schema=schema)
    pq.write_table(table, path, row_group_size=1_000)
    return path


def test_converting_a_parquet_file_shows_rows_read_of_its_total_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MODE_VARIABLE, "plain")
    source, out = downtime_parquet(tmp_path / "downtime.parquet"), tmp_path / "downtime.hyper"

    assert main(["bi", "hyper", "--table", "downtime", "--parquet", str(source), "--out", str(out)]) == 0

    captured = capsys.readouterr()
    assert captured.out == f"wrote {ROWS} rows of downtime to {out} (table Extract.Extract)\n"
    lines = [re.sub(r"^  \[ *\d+\.\d s\] ", "", line) for line in captured.err.splitlines()]
    assert lines[0] == f"downtime -> downtime.hyper 0/{ROWS:,} rows read"
    assert (
        lines[-1] == f"downtime -> downtime.hyper {ROWS:,}/{ROWS:,} rows read - loading them into the extract"
    )
