"""Where each signal of the simulated plant is published: IoT sensors, historian tags, expected ranges.

- temperature and vibration: one MQTT sensor per machine on `factory/<machine_id>/<signal>`;
- humidity: one HTTP-polled sensor per line, registered on the line's first machine;
- machine_state and the piece counters: PI tags (the counters cumulative, rolling over at 65536);
- pressure and speed: tags of the site's process historian (PI or AVEVA), in raw units that the
  mapping converts with `value = raw * scale_factor + offset_value`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from oee_pipelines.simulator.layout import Line, Machine, PlantLayout
from oee_pipelines.simulator.sensors import LINE_SIGNALS, MACHINE_SIGNALS, signal_spec

COUNTER_ROLLOVER = 65_536.0
MQTT_SIGNALS = ("temperature", "vibration")
SENSOR_ID_PREFIXES = {"temperature": "TEMP", "vibration": "VIB", "humidity": "HUM"}


@dataclass(frozen=True)
class HistorianTag:
    system: str
    suffix: str
    unit: str | None
    scale_factor: float
    offset_value: float
    counter_mode: str
    counter_rollover: float | None


PI_TAGS = {
    "machine_state": HistorianTag("pi", "State", None, 1.0, 0.0, "none", None),
    "pieces_good": HistorianTag("pi", "GoodCount", "pcs", 1.0, 0.0, "cumulative", COUNTER_ROLLOVER),
    "pieces_rejected": HistorianTag("pi", "RejectCount", "pcs", 1.0, 0.0, "cumulative", COUNTER_ROLLOVER),
    # PI reports absolute pressure in kPa and speed in pieces per hour.
    "pressure": HistorianTag("pi", "Pressure", "bar", 0.01, -1.01325, "none", None),
    "speed": HistorianTag("pi", "Speed", "ppm", 1 / 60, 0.0, "none", None),
}
AVEVA_TAGS = {
    # AVEVA reports gauge pressure in psi and speed in pieces per minute.
    "pressure": HistorianTag("aveva", "Pressure", "bar", 0.0689476, 0.0, "none", None),
    "speed": HistorianTag("aveva", "Speed", "ppm", 1.0, 0.0, "none", None),
}
HISTORIAN_SIGNALS = ("machine_state", "pieces_good", "pieces_rejected", "pressure", "speed")
# The digital state names the simulated PI server writes for each state (the plant's reason codes):
# mixed case, as a real PI state set would; the plant model's state set maps them back.
PI_STATE_NAMES = {
    "OFF-SHIFT": "Off shift",
    "RUNNING": "Running",
    "BREAK": "Break",
    "CHANGEOVER": "Changeover",
    "PLANNED-MAINT": "Planned maintenance",
    "BRK-MECH": "Mechanical breakdown",
    "BRK-ELEC": "Electrical breakdown",
    "STARVED": "Starved",
    "ADJUST": "Adjusting",
    "JAM": "Jammed",
}


def historian_tag(machine: Machine, signal: str) -> tuple[HistorianTag, str]:
    """The tag definition and tag name serving `signal` of `machine`."""
    use_aveva = machine.line.site.spec.process_historian == "aveva" and signal in AVEVA_TAGS
    tag = AVEVA_TAGS[signal] if use_aveva else PI_TAGS[signal]
    if tag.system == "aveva":
        return tag, f"{machine.line.code}_{machine.code}_{tag.suffix}"
    return tag, f"{machine.line.site.id}.{machine.line.code}.{machine.code}.{tag.suffix}"


def sensor_id(layout: PlantLayout, owner: Machine | Line, signal: str) -> str:
    return f"{layout.description.id_prefix}{SENSOR_ID_PREFIXES[signal]}-{owner.code}"


def mqtt_topic(machine: Machine, signal: str) -> str:
    return f"factory/{machine.id}/{signal}"


def http_endpoint(layout: PlantLayout, line: Line) -> str:
    """Path relative to the HTTP sensor server's base URL."""
    return f"/sensors/{sensor_id(layout, line, 'humidity')}"


def line_sensor_machine(layout: PlantLayout, line: Line) -> Machine:
    """The machine a line-level sensor is registered on (the first of the line)."""
    return layout.line_machines(line)[0]


def source_ref(layout: PlantLayout, machine: Machine, signal: str) -> str:
    """The address a signal is published under: MQTT topic, HTTP endpoint or historian tag."""
    if signal in MQTT_SIGNALS:
        return mqtt_topic(machine, signal)
    if signal in LINE_SIGNALS:
        return http_endpoint(layout, machine.line)
    return historian_tag(machine, signal)[1]


def iot_sensors(layout: PlantLayout) -> pd.DataFrame:
    org_id = layout.description.organization_id
    rows = []
    for machine in layout.machines:
        for signal in MQTT_SIGNALS:
            spec = signal_spec(signal)
            rows.append(
                {
                    "sensor_id": sensor_id(layout, machine, signal),
                    "org_id": org_id,
                    "sensor_type": signal,
                    "machine_id": machine.id,
                    "protocol": "MQTT",
                    "mqtt_topic": mqtt_topic(machine, signal),
                    "http_endpoint": None,
                    "polling_interval_seconds": None,
                    "unit": spec.unit,
                    "min_expected_value": spec.min_value,
                    "max_expected_value": spec.max_value,
                    "is_active": True,
                }
            )
    for line in layout.lines:
        spec = signal_spec("humidity")
        rows.append(
            {
                "sensor_id": sensor_id(layout, line, "humidity"),
                "org_id": org_id,
                "sensor_type": "humidity",
                "machine_id": line_sensor_machine(layout, line).id,
                "protocol": "HTTP",
                "mqtt_topic": None,
                "http_endpoint": http_endpoint(layout, line),
                "polling_interval_seconds": layout.description.sensor_interval_seconds,
                "unit": spec.unit,
                "min_expected_value": spec.min_value,
                "max_expected_value": spec.max_value,
                "is_active": True,
            }
        )
    frame = pd.DataFrame(rows)
    frame["polling_interval_seconds"] = frame["polling_interval_seconds"].astype("Int32")
    return frame


def historian_tag_mappings(layout: PlantLayout) -> pd.DataFrame:
    rows = []
    for machine in layout.machines:
        for signal in HISTORIAN_SIGNALS:
            tag, name = historian_tag(machine, signal)
            rows.append(
                {
                    "org_id": layout.description.organization_id,
                    "historian_system": tag.system,
                    "historian_tag": name,
                    "machine_id": machine.id,
                    "signal_type": signal,
                    "unit": tag.unit,
                    "scale_factor": tag.scale_factor,
                    "offset_value": tag.offset_value,
                    "counter_mode": tag.counter_mode,
                    "counter_rollover": tag.counter_rollover,
                    "is_active": True,
                }
            )
    return pd.DataFrame(rows)


def sensor_range_config(layout: PlantLayout) -> pd.DataFrame:
    owners = [(machine, signal) for machine in layout.machines for signal in MACHINE_SIGNALS]
    owners += [
        (line_sensor_machine(layout, line), signal) for line in layout.lines for signal in LINE_SIGNALS
    ]
    rows = []
    for machine, signal in owners:
        spec = signal_spec(signal)
        rows.append(
            {
                "org_id": layout.description.organization_id,
                "machine_id": machine.id,
                "signal_type": signal,
                "min_value": spec.min_value,
                "max_value": spec.max_value,
                "unit": spec.unit,
                "violation_action": spec.violation_action,
                "is_active": True,
            }
        )
    return pd.DataFrame(rows)
