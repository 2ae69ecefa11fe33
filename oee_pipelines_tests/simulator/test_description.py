from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from oee_pipelines.simulator.plant import PlantConfigError, SimulatedPlant, load_plant_description


def test_the_packaged_demo_plant_has_two_sites_and_sixteen_machines() -> None:
    description = load_plant_description()
    assert [(site.name, site.timezone) for site in description.sites] == [
        ("Berlin Plant", "Europe/Berlin"),
        ("Chicago Plant", "America/Chicago"),
    ]
    assert description.machine_count == 16
    assert [(s.start, s.end) for s in description.shifts] == [
        ("06:00", "14:00"),
        ("14:00", "22:00"),
        ("22:00", "06:00"),
    ]
    assert all(s.breaks[0].duration_minutes == 30 for s in description.shifts)


def test_an_edited_copy_loads_from_a_path(
    demo_yaml: dict[str, Any], write_plant: Callable[..., Path]
) -> None:
    demo_yaml["sites"][0]["lines"][0]["machines"] = 2
    assert load_plant_description(write_plant(demo_yaml)).machine_count == 14


def error_for(data: dict[str, Any], write_plant: Callable[..., Path]) -> str:
    with pytest.raises(PlantConfigError) as caught:
        load_plant_description(write_plant(data))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_unknown_nested_key_is_named_with_its_place(
    demo_yaml: dict[str, Any], write_plant: Callable[..., Path]
) -> None:
    demo_yaml["sites"][0]["lines"][1]["machins"] = 3
    assert error_for(demo_yaml, write_plant) == "plant.yaml: unknown key 'machins' in sites[0].lines[1]"


def test_an_unknown_top_level_key_is_named(
    demo_yaml: dict[str, Any], write_plant: Callable[..., Path]
) -> None:
    demo_yaml["shift"] = []
    assert "unknown key 'shift' at the top level" in error_for(demo_yaml, write_plant)


def test_a_missing_required_key_is_named_with_its_place(
    demo_yaml: dict[str, Any], write_plant: Callable[..., Path]
) -> None:
    del demo_yaml["sites"][1]["timezone"]
    assert "missing key 'timezone' in sites[1]" in error_for(demo_yaml, write_plant)


def test_a_value_of_the_wrong_type_is_named(
    demo_yaml: dict[str, Any], write_plant: Callable[..., Path]
) -> None:
    demo_yaml["sites"][0]["lines"][0]["machines"] = "four"
    assert "sites[0].lines[0].machines: expected int, got 'four'" in error_for(demo_yaml, write_plant)


def test_an_unknown_time_zone_and_an_unknown_product_are_rejected(
    demo_yaml: dict[str, Any], write_plant: Callable[..., Path]
) -> None:
    demo_yaml["sites"][1]["timezone"] = "America/Chicagoo"
    assert "sites[1].timezone: unknown time zone 'America/Chicagoo'" in error_for(demo_yaml, write_plant)
    demo_yaml["sites"][1]["timezone"] = "America/Chicago"
    demo_yaml["sites"][1]["lines"][0]["products"] = ["NOPE"]
    assert "sites[1].lines[0].products: unknown product 'NOPE'" in error_for(demo_yaml, write_plant)


def test_scaled_describes_the_asked_number_of_machines_with_unique_ids() -> None:
    description = load_plant_description().scaled(500)
    assert description.machine_count == 500
    plant = SimulatedPlant(description, seed=1)
    machines = plant.machines()
    assert len(machines) == 500 and machines["id"].is_unique
    assert plant.lines()["id"].is_unique
    assert set(machines["line_id"]) == set(plant.lines()["id"])
