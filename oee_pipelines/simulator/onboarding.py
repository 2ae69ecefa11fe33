"""The simulated plant described through the public onboarding contracts.

A real plant's IT writes a plant model file (docs/onboarding.md); the simulator writes the same
file for the plant it stands in for, so the demo onboards it exactly as a plant would:
`write_plant_model(plant, path)` -> `oee plant apply path`.

The ids are the simulated plant's own (`SITE-01`, `LINE-001`, `MACHINE-001`, `SHIFT-1`,
`PROD-001`...): they are what its MES, ERP, historians and sensors send, so the data those sources
deliver lands on the machines, lines and products the file defines.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import yaml
from openpyxl import Workbook

from oee_pipelines.simulator.events import RUNNING, STATE_NAMES
from oee_pipelines.simulator.layout import PlantLayout
from oee_pipelines.simulator.plant import SimulatedPlant
from oee_pipelines.simulator.reference import REASON_CODES
from oee_pipelines.simulator.registry import (
    PI_STATE_NAMES,
    historian_tag_mappings,
    iot_sensors,
    sensor_range_config,
)

PLANT_MODEL_VERSION = 1
# The digital state set of the simulated PI server's machine_state tags.
STATE_SET = "SIM-STATES"


def plant_model(plant: SimulatedPlant) -> dict[str, Any]:
    """The plant model of the simulated plant, as the plain mapping the YAML file holds."""
    layout = plant.layout
    description = layout.description
    return {
        "version": PLANT_MODEL_VERSION,
        "organization": Flow(id=description.organization_id, name=description.organization_name),
        "reason_codes": [
            Flow(
                code=reason.code,
                name=reason.name,
                category=reason.category,
                planned=reason.is_planned,
                loss=reason.loss_category,
            )
            for reason in REASON_CODES
        ],
        "products": [
            Flow(
                id=product.id,
                name=product.spec.name,
                unit=product.spec.unit,
                ideal_cycle_time_seconds=product.spec.ideal_cycle_time_s,
            )
            for product in layout.products
        ],
        "sites": _sites(layout),
        "iot_sensors": _iot_sensors(layout),
        "historian_tags": _historian_tags(layout),
        "state_sets": [{"name": STATE_SET, "states": state_set_states()}],
    }


def state_set_states() -> list[dict[str, Any]]:
    """The simulated PI server's state names: `Running` runs; every other name is a stop with the
    reason code the simulator logged (`Mechanical breakdown` -> BRK-MECH)."""
    states: list[dict[str, Any]] = []
    for code, reason in enumerate(STATE_NAMES):
        name = PI_STATE_NAMES[reason]
        if code == RUNNING:
            states.append(Flow(name=name, running=True))
        else:
            states.append(Flow(name=name, running=False, reason_code=reason))
    return states


def write_plant_model(plant: SimulatedPlant, path: Path | str) -> Path:
    """Write the simulated plant's model file (YAML) to `path`; returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Plant model of the simulated plant {plant.description.organization_name!r}, written by the\n"
        "# simulator (oee_pipelines/simulator/onboarding.py). Format: docs/onboarding.md.\n"
    )
    target.write_text(header + dump_plant_model(plant_model(plant)))
    return target


def write_reference_templates(plant: SimulatedPlant, folder: Path | str) -> dict[str, Path]:
    """Two of the plant's lists as the reference-data templates a plant keeps in Excel (docs/imports.md):
    the reason codes (CSV) and the sensor ranges (XLSX). They restate rows of the plant model file, so
    importing them after applying it changes nothing: the demo shows the path, the model stays whole.
    Returns {template type: path}, in import order."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    reasons = target / "reason_codes.csv"
    with reasons.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "name", "category", "planned", "loss"])
        for reason in REASON_CODES:
            planned = "yes" if reason.is_planned else "no"
            writer.writerow([reason.code, reason.name, reason.category, planned, reason.loss_category])
    ranges = target / "sensor_ranges.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "sensor_ranges"
    sheet.append(["machine_id", "signal", "min", "max", "unit", "action"])
    for row in sensor_range_config(plant.layout).itertuples():
        sheet.append(
            [row.machine_id, row.signal_type, row.min_value, row.max_value, row.unit, row.violation_action]
        )
    workbook.save(ranges)
    return {"reason_codes": reasons, "sensor_ranges": ranges}


class Flow(dict[str, Any]):
    """A mapping written on one line (`{signal: temperature, min: 10.0, ...}`)."""


class FlowList(list):  # type: ignore[type-arg]
    """A list written on one line (`[1, 2, 3, 4, 5]`)."""


class _Dumper(yaml.SafeDumper):
    """Block style except for `Flow` rows; no anchors; local times quoted (`"06:00"`)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if re.fullmatch(r"\d{1,2}:\d{2}", value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(
    Flow, lambda dumper, value: dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)
)
_Dumper.add_representer(
    FlowList, lambda dumper, value: dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)
)
_Dumper.add_representer(str, _represent_str)


def dump_plant_model(model: dict[str, Any]) -> str:
    """YAML text of a plant model mapping (rows marked `Flow` on one line each)."""
    return yaml.dump(model, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def _sites(layout: PlantLayout) -> list[dict[str, Any]]:
    ranges = sensor_range_config(layout)
    weekdays = list(layout.description.weekdays)
    sites = []
    for site in layout.sites:
        shifts = [
            {
                "id": shift.id,
                "name": shift.spec.name,
                "start": shift.spec.start,
                "end": shift.spec.end,
                "weekdays": FlowList(weekdays),
                "breaks": [
                    Flow(
                        name=brk.name,
                        start_offset_minutes=brk.start_offset_minutes,
                        duration_minutes=brk.duration_minutes,
                    )
                    for brk in shift.breaks
                ],
            }
            for shift in layout.site_shifts(site)
        ]
        lines = [
            {
                "id": line.id,
                "name": line.name,
                "machines": [
                    {
                        "id": machine.id,
                        "name": f"{line.name} {line.machine_type} {machine.position}",
                        "type": line.machine_type,
                        "sensor_ranges": [
                            Flow(
                                signal=row.signal_type,
                                min=float(row.min_value),
                                max=float(row.max_value),
                                unit=row.unit,
                                action=row.violation_action,
                            )
                            for row in ranges[ranges["machine_id"] == machine.id].itertuples()
                        ],
                    }
                    for machine in layout.line_machines(line)
                ],
            }
            for line in layout.lines
            if line.site is site
        ]
        sites.append(
            {
                "id": site.id,
                "name": site.spec.name,
                "timezone": site.spec.timezone,
                "shifts": shifts,
                "lines": lines,
            }
        )
    return sites


def _iot_sensors(layout: PlantLayout) -> list[Flow]:
    sensors = []
    for row in iot_sensors(layout).itertuples():
        sensor = Flow(
            sensor_id=row.sensor_id,
            machine_id=row.machine_id,
            sensor_type=row.sensor_type,
            protocol=row.protocol,
        )
        if row.protocol == "MQTT":
            sensor["mqtt_topic"] = row.mqtt_topic
        else:
            sensor["http_endpoint"] = row.http_endpoint
            sensor["polling_interval_seconds"] = int(row.polling_interval_seconds)
        sensor |= {"unit": row.unit, "min": float(row.min_expected_value)}
        sensor["max"] = float(row.max_expected_value)
        sensors.append(sensor)
    return sensors


def _historian_tags(layout: PlantLayout) -> list[Flow]:
    tags = []
    for row in historian_tag_mappings(layout).itertuples():
        tag = Flow(
            system=row.historian_system,
            tag=row.historian_tag,
            machine_id=row.machine_id,
            signal=row.signal_type,
        )
        if row.signal_type == "machine_state":
            tag["state_set"] = STATE_SET
        if row.counter_mode != "none":
            tag["counter"] = row.counter_mode
            tag["rollover"] = float(row.counter_rollover)
        tag |= {"scale": float(row.scale_factor), "offset": float(row.offset_value)}
        if row.unit is not None:
            tag["unit"] = row.unit
        tags.append(tag)
    return tags
