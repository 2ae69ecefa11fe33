"""`.hyper` extracts: written by `oee bi hyper`, read back with the Hyper API, equal to the Parquet export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tableauhyperapi import Connection, HyperProcess, SqlType, TableName, Telemetry

from oee_pipelines.cli import main

RANGE = {"date_from": "2025-01-01", "date_to": "2025-01-30"}
EXPECTED_HYPER_TYPES = {
    pa.timestamp("us", tz="UTC"): SqlType.timestamp_tz(),
    pa.date32(): SqlType.date(),
    pa.float64(): SqlType.double(),
    pa.int64(): SqlType.big_int(),
    pa.bool_(): SqlType.bool(),
    pa.string(): SqlType.text(),
}


def parquet_export(client: TestClient, table: str, folder: Path) -> Path:
    response = client.get(f"/api/oee/export/{table}", params={"format": "parquet", **RANGE})
    assert response.status_code == 200, response.text
    path = folder / f"{table}.parquet"
    path.write_bytes(response.content)
    return path


def _python(value: Any) -> Any:
    for convert in ("to_datetime", "to_date"):
        if hasattr(value, convert):
            return getattr(value, convert)()
    return value


def read_hyper(path: Path, tmp_path: Path) -> tuple[list[tuple[str, SqlType]], list[tuple]]:
    parameters = {"log_dir": str(tmp_path)}
    with (
        HyperProcess(Telemetry.DO_NOT_SEND_USAGE_DATA_TO_TABLEAU, parameters=parameters) as hyper,
        Connection(hyper.endpoint, str(path)) as connection,
    ):
        name = TableName("Extract", "Extract")
        definition = connection.catalog.get_table_definition(name)
        columns = [(column.name.unescaped, column.type) for column in definition.columns]
        rows = [
            tuple(_python(value) for value in row)
            for row in connection.execute_list_query(f"SELECT * FROM {name}")
        ]
    return columns, rows


def assert_same_as_parquet(hyper_path: Path, parquet_path: Path, tmp_path: Path) -> int:
    expected = pq.read_table(parquet_path)
    columns, rows = read_hyper(hyper_path, tmp_path)
    assert [name for name, _ in columns] == expected.column_names
    assert [hyper_type for _, hyper_type in columns] == [
        EXPECTED_HYPER_TYPES[field.type] for field in expected.schema
    ]
    expected_rows = [tuple(row.values()) for row in expected.to_pylist()]
    assert sorted(rows, key=repr) == sorted(expected_rows, key=repr)
    return len(rows)


@pytest.mark.parametrize(("table", "rows"), [("snapshots", 2880 + 96), ("downtime", 3), ("shift-reports", 2)])
def test_hyper_from_the_parquet_export_has_its_rows_and_types(
    export_client: TestClient, tmp_path: Path, table: str, rows: int, capsys: pytest.CaptureFixture
) -> None:
    parquet_path = parquet_export(export_client, table, tmp_path)
    out = tmp_path / f"{table}.hyper"
    assert main(["bi", "hyper", "--table", table, "--parquet", str(parquet_path), "--out", str(out)]) == 0
    assert f"wrote {rows} rows" in capsys.readouterr().out
    assert assert_same_as_parquet(out, parquet_path, tmp_path) == rows


def test_hyper_from_the_warehouse_equals_the_parquet_export(
    export_client: TestClient, warehouse_env: str, tmp_path: Path
) -> None:
    parquet_path = parquet_export(export_client, "snapshots", tmp_path)
    out = tmp_path / "extract" / "snapshots.hyper"
    argv = ["bi", "hyper", "--table", "snapshots", "--org", "acme", "--date-from", "2025-01-01"]
    assert main([*argv, "--date-to", "2025-01-30", "--out", str(out)]) == 0
    assert assert_same_as_parquet(out, parquet_path, tmp_path) == 2880 + 96


def test_hyper_from_the_warehouse_needs_a_range(
    warehouse_env: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "x.hyper"
    assert main(["bi", "hyper", "--table", "downtime", "--org", "acme", "--out", str(out)]) == 2
    assert "--org needs --date-from and --date-to" in capsys.readouterr().err
    assert main(["bi", "hyper", "--table", "downtime", "--org", "acme", "--date-from", "2025-13-01",
                 "--date-to", "2025-01-02", "--out", str(out)]) == 2  # fmt: skip
    assert "--date-from" in capsys.readouterr().err
    assert not out.exists()
