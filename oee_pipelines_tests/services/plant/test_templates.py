"""Reference-data templates: all or nothing, every bad row named, and the good file applied through
the plant model service (its rows merged into the current model)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from oee_pipelines.domain.plant_model import parse_plant_model
from oee_pipelines.services.plant import PlantModelService
from oee_pipelines.services.plant.templates import (
    TEMPLATE_KINDS,
    ReferenceImporter,
    build_template_xlsx,
    template_csv,
)
from oee_pipelines_tests.support.plant_model import example_text, fingerprint


@pytest.fixture
def importer(clean_database: str) -> ReferenceImporter:
    PlantModelService(clean_database).apply(parse_plant_model(example_text()))
    return ReferenceImporter(clean_database)


def _import(importer: ReferenceImporter, tmp_path: Path, kind: str, text: str) -> dict:
    path = tmp_path / f"{kind}.csv"
    path.write_text(text)
    return importer.import_file(path, kind, org_id="acme").as_dict()


def _errors(outcome: dict) -> set[tuple[int | None, str | None, str]]:
    return {(e["row"], e["column"], e["reason"]) for e in outcome["errors"]}


def test_every_template_imports_its_own_example(importer: ReferenceImporter, tmp_path: Path) -> None:
    for kind in TEMPLATE_KINDS:
        if kind == "shifts":
            continue  # the example night shift is the example plant's own (an update)
        outcome = _import(importer, tmp_path, kind, template_csv(kind))
        assert outcome["status"] == "SUCCESS", (kind, outcome["errors"])
        assert build_template_xlsx(kind, tmp_path / f"{kind}.xlsx").is_file()


def test_machines_unknown_line_and_duplicate_id_are_named_and_nothing_changes(
    importer: ReferenceImporter, tmp_path: Path, clean_database: str
) -> None:
    before = fingerprint(clean_database)
    outcome = _import(
        importer,
        tmp_path,
        "machines",
        "machine_id,line_id,name,type\nM4,L1,Filler 4,filler\nM5,L9,Ghost,\nM4,L2,Again,\n",
    )
    assert outcome["status"] == "REJECTED"
    assert _errors(outcome) == {
        (3, "line_id", "unknown line 'L9'"),
        (4, "machine_id", "duplicate id: same machine_id as row 2"),
    }
    assert fingerprint(clean_database) == before


def test_a_good_machines_file_is_applied_and_reimporting_it_changes_nothing(
    importer: ReferenceImporter, tmp_path: Path, clean_database: str
) -> None:
    text = "machine_id,line_id,name,type\nM4,L1,Filler 4,filler\nM3,L1,Filler 2 moved,filler\n"
    outcome = _import(importer, tmp_path, "machines", text)
    assert outcome["status"] == "SUCCESS", outcome["errors"]
    assert outcome["apply_report"]["tables"]["machines"]["created"] == 1
    with psycopg.connect(clean_database) as conn:
        assert conn.execute("SELECT line_id, name FROM machines WHERE id = 'M3'").fetchone() == (
            "L1",
            "Filler 2 moved",
        )
    before = fingerprint(clean_database)
    again = _import(importer, tmp_path, "machines", text)
    assert again["status"] == "SUCCESS" and again["apply_report"]["changed"] == 0
    assert fingerprint(clean_database) == before


def test_overlapping_shifts_are_named_on_their_row(
    importer: ReferenceImporter, tmp_path: Path, clean_database: str
) -> None:
    before = fingerprint(clean_database)
    outcome = _import(
        importer,
        tmp_path,
        "shifts",
        "shift_id,site_id,name,start,end,weekdays\nWAW-LATE,PLANT-WAW,Late,20:00,23:00,1-5\n"
        "WAW-X,PLANT-XX,X,01:00,02:00,6\n",
    )
    assert outcome["status"] == "REJECTED"
    errors = _errors(outcome)
    assert (3, "site_id", "unknown site 'PLANT-XX'") in errors
    assert any(row == 2 and "overlaps shift 'WAW-AFTERNOON'" in reason for row, _, reason in errors), errors
    assert fingerprint(clean_database) == before


def test_state_reason_code_undefined_and_tag_on_unknown_machine_and_cycle_time(
    importer: ReferenceImporter, tmp_path: Path, clean_database: str
) -> None:
    before = fingerprint(clean_database)
    states = _import(
        importer,
        tmp_path,
        "state_sets",
        "state_set,state,running,reason_code\nWAW-STATES,Blocked,no,BLOCKED\nWAW-STATES,Idle,maybe,\n",
    )
    assert _errors(states) == {
        (2, "reason_code", "undefined reason code 'BLOCKED' (not in reason_codes)"),
        (3, "running", "write yes or no"),
    }
    tags = _import(
        importer,
        tmp_path,
        "tag_mappings",
        "system,tag,machine_id,signal,state_set\npi,WAW.M9.State,M9,machine_state,WAW-STATES\n"
        "pi,WAW.M1.State,M1,machine_state,NOPE\n",
    )
    assert _errors(tags) == {
        (2, "machine_id", "unknown machine 'M9' (not in sites[].lines[].machines)"),
        (3, "state_set", "undefined state set 'NOPE' (not in state_sets)"),
    }
    cycle = _import(
        importer,
        tmp_path,
        "products_cycle_times",
        "product_id,machine_id,name,ideal_cycle_time_seconds\nCAN-330,,Can,0\nBTL-500,M1,,-1\n"
        "BTL-500,M9,,1.2\n",
    )
    assert _errors(cycle) == {
        (2, "ideal_cycle_time_seconds", "must be > 0"),
        (3, "ideal_cycle_time_seconds", "must be > 0"),
        (4, "machine_id", "unknown machine 'M9'"),
    }
    assert {o["status"] for o in (states, tags, cycle)} == {"REJECTED"}
    assert fingerprint(clean_database) == before


def test_sensor_ranges_reason_codes_and_iot_sensors(importer: ReferenceImporter, tmp_path: Path) -> None:
    ranges = _import(
        importer,
        tmp_path,
        "sensor_ranges",
        "machine_id,signal,min,max,action\nM9,temperature,1,2,ALERT\n"
        "M2,pressure,5,1,ALERT\nM2,speed,1,2,SHOUT\n",
    )
    errors = _errors(ranges)
    assert (2, "machine_id", "unknown machine 'M9'") in errors
    assert (3, "max", "max 1.0 is below min 5.0") in errors
    assert any(row == 4 and column == "action" for row, column, _ in errors), errors
    reasons = _import(
        importer, tmp_path, "reason_codes", "code,name,category,planned,loss\nJAM,Jam,Minor,no,small_stops\n"
    )
    assert reasons["status"] == "SUCCESS"
    sensors = _import(
        importer,
        tmp_path,
        "iot_sensors",
        "sensor_id,machine_id,sensor_type,protocol,mqtt_topic,unit\nS-M9,M9,temperature,MQTT,t/m9,degC\n",
    )
    assert _errors(sensors) == {(2, "machine_id", "unknown machine 'M9' (not in sites[].lines[].machines)")}
