"""`oee plant validate|apply|export`: every error with its path and exit 1 with no table changed;
apply twice changes nothing; export then apply changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from oee_pipelines.cli import main
from oee_pipelines_tests.support.plant_model import EXAMPLE_FILE, example_text, fingerprint


@pytest.fixture
def environment(clean_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OEE_DATABASE_URL", clean_database)
    monkeypatch.setenv("OEE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OEE_ORG_ID", "acme")
    return clean_database


def test_apply_twice_and_export_round_trip_change_nothing(
    environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plant", "validate", str(EXAMPLE_FILE)]) == 0
    assert main(["plant", "apply", str(EXAMPLE_FILE)]) == 0
    assert "rows changed" in capsys.readouterr().out
    before = fingerprint(environment)
    assert main(["plant", "apply", str(EXAMPLE_FILE)]) == 0
    assert ": 0 rows changed" in capsys.readouterr().out
    exported = tmp_path / "exported.yaml"
    assert main(["plant", "export", "-o", str(exported)]) == 0
    assert main(["plant", "apply", str(exported)]) == 0
    assert ": 0 rows changed" in capsys.readouterr().out
    assert fingerprint(environment) == before
    assert main(["plant", "export", "--org", "acme"]) == 0
    assert "organization:\n  id: acme" in capsys.readouterr().out


def test_an_invalid_file_prints_every_error_exits_1_and_changes_nothing(
    environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plant", "apply", str(EXAMPLE_FILE)]) == 0
    before = fingerprint(environment)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        example_text()
        .replace("timezone: Europe/Warsaw", "timezone: Europe/Warsw")
        .replace("{id: M3, name: Filler 2, type: filler}", "{id: M2, name: Filler 2, typ: filler}")
        .replace("ideal_cycle_times: {BTL-500: 1.4}", "ideal_cycle_times: {BTL-500: 0}")
        .replace("machine_id: M1, sensor_type", "machine_id: M7, sensor_type")
        .replace("reason_code: STARVED", "reason_code: BLOCKED")
    )
    for command in ("validate", "apply"):
        assert main(["plant", command, str(bad)]) == 1
        err = capsys.readouterr().err
        assert "5 errors" not in err  # counted below
        for line in (
            "sites[0].timezone: 'Europe/Warsw' is not an IANA time zone",
            "sites[0].lines[1].machines[0].typ: unknown key",
            "sites[0].lines[1].machines[0].id: duplicate id 'M2' (also at sites[0].lines[0].machines[1])",
            "sites[0].lines[0].machines[0].ideal_cycle_times: ideal cycle times must be > 0 seconds",
            "iot_sensors[0].machine_id: unknown machine 'M7'",
            "state_sets[0].states[3].reason_code: undefined reason code 'BLOCKED'",
        ):
            assert line in err, err
        assert "6 errors, nothing changed" in err
    assert fingerprint(environment) == before


def test_missing_file_or_organization_exits_2(environment: str, tmp_path: Path) -> None:
    assert main(["plant", "apply", str(tmp_path / "none.yaml")]) == 2
    assert main(["plant", "export", "--org", "nobody"]) == 2
