from __future__ import annotations

import psycopg
import pytest

from oee_pipelines.domain.plant_model import PlantModelError, parse_plant_model
from oee_pipelines.services.plant import PlantModelService
from oee_pipelines_tests.support.plant_model import example_text, fingerprint


def test_apply_twice_changes_nothing_and_export_round_trips(clean_database: str) -> None:
    service = PlantModelService(clean_database)
    first = service.apply(parse_plant_model(example_text()))
    assert first.tables["machines"].created == 3
    assert first.tables["state_name_mappings"].created == 4
    before = fingerprint(clean_database)

    second = service.apply(parse_plant_model(example_text()))
    assert second.changed == 0
    assert second.tables["machines"].unchanged == 3
    assert fingerprint(clean_database) == before

    exported = service.export("acme")
    third = service.apply(parse_plant_model(exported.to_yaml()))
    assert third.changed == 0, third.as_dict()
    assert fingerprint(clean_database) == before


def test_removed_machine_is_deactivated_and_its_history_kept(clean_database: str) -> None:
    service = PlantModelService(clean_database)
    service.apply(parse_plant_model(example_text()))
    with psycopg.connect(clean_database) as conn:
        conn.execute(
            """INSERT INTO oee_downtime_events (org_id, machine_id, start_time, end_time, source_system)
               VALUES ('acme', 'M1', '2025-01-02T10:00Z', '2025-01-02T10:10Z', 'mes')"""
        )
    without_m1 = (
        example_text()
        .replace(
            """          - id: M1
            name: Filler 1
            type: filler
            ideal_cycle_times: {BTL-500: 1.4}
            sensor_ranges:
              - {signal: temperature, min: 10, max: 90, unit: degC, action: ALERT}
""",
            "",
        )
        .replace(
            """  - {sensor_id: S-M1-T, machine_id: M1, sensor_type: temperature, protocol: MQTT,
     mqtt_topic: plant/L1/M1/temperature, unit: degC, min: 0, max: 120}
""",
            "",
        )
    )
    report = service.apply(parse_plant_model(without_m1))
    assert report.tables["machines"].deactivated == 1
    assert report.tables["iot_sensors"].deactivated == 1
    assert report.tables["sensor_range_config"].deactivated == 1
    assert report.tables["machine_cycle_times"].deleted == 1
    with psycopg.connect(clean_database) as conn:
        assert conn.execute("SELECT is_active FROM machines WHERE id = 'M1'").fetchone() == (False,)
        assert conn.execute(
            "SELECT count(*) FROM oee_downtime_events WHERE machine_id = 'M1'"
        ).fetchone() == (1,)
    assert "M1" not in {m.id for _, _, m in service.export("acme").machines()}
    # Put back: reactivated, not duplicated.
    back = service.apply(parse_plant_model(example_text()))
    assert back.tables["machines"].updated == 1 and back.tables["machines"].created == 0


def test_an_id_of_another_organization_is_refused_and_nothing_changes(clean_database: str) -> None:
    service = PlantModelService(clean_database)
    service.apply(parse_plant_model(example_text()))
    before = fingerprint(clean_database)
    other = example_text().replace("{id: acme, name: Acme Foods}", "{id: globex, name: Globex}")
    other = other.replace("id: PLANT-WAW", "id: PLANT-GLX")
    with pytest.raises(PlantModelError) as caught:
        service.apply(parse_plant_model(other))
    assert "sites[0].lines[0].machines[0].id: id 'M1' already belongs to organization 'acme'" in str(
        caught.value
    )
    assert fingerprint(clean_database) == before


def test_master_data_never_overrides_the_plant_model(clean_database: str) -> None:
    service = PlantModelService(clean_database)
    service.apply(parse_plant_model(example_text()))
    report = service.upsert_master_data(
        "acme",
        products=[{"id": "BTL-500", "name": "MES name"}, {"id": "CAN-330", "name": "Can 330 ml"}],
        machines=[
            {"id": "M1", "line_id": "L2", "name": "MES"},
            {"id": "WC-9", "line_id": "L1"},
            {"id": "WC-10", "line_id": "NOPE"},
        ],
        cycle_times=[
            {"machine_id": "M1", "product_id": "BTL-500", "ideal_cycle_time_seconds": 9.0},
            {"machine_id": "M2", "product_id": "BTL-1000", "ideal_cycle_time_seconds": 2.0},
            {"machine_id": "M2", "product_id": "CAN-330", "ideal_cycle_time_seconds": 0},
        ],
    )
    assert (report.products_created, report.machines_created, report.cycle_times_written) == (1, 1, 1)
    assert len(report.rejected) == 2
    with psycopg.connect(clean_database) as conn:
        assert conn.execute("SELECT name FROM products WHERE id = 'BTL-500'").fetchone() == ("Bottle 500 ml",)
        assert conn.execute("SELECT line_id FROM machines WHERE id = 'M1'").fetchone() == ("L1",)
        assert conn.execute(
            "SELECT ideal_cycle_time_seconds, source FROM machine_cycle_times WHERE machine_id = 'M1'"
        ).fetchone() == (1.4, "plant_model")
    # The plant model's apply leaves the MES rows alone and its export leaves them out.
    assert service.apply(parse_plant_model(example_text())).changed == 0
    exported = service.export("acme")
    assert "CAN-330" not in {p.id for p in exported.products}
    assert "WC-9" not in {m.id for _, _, m in exported.machines()}
