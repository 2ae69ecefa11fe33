"""The plant description: a small YAML file read into frozen dataclasses, checked key by key.

Every key is a dataclass field; a field without a default is required. The loader walks the
YAML and the dataclasses together so an error names the key and where it sits
(`unknown key 'machins' in sites[0].lines[1]`).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

DEMO_PLANT_FILE = "demo_plant.yaml"


class PlantConfigError(ValueError):
    """The plant description is invalid; the message is one line naming the key and its place."""


@dataclass(frozen=True)
class BreakSpec:
    name: str = "Break"
    start_offset_minutes: int = 240
    duration_minutes: int = 30


@dataclass(frozen=True)
class ShiftSpec:
    name: str
    start: str  # local "HH:MM"
    end: str  # local "HH:MM"; at or before `start` means the next day
    breaks: tuple[BreakSpec, ...] = (BreakSpec(),)

    @property
    def start_time(self) -> time:
        return time.fromisoformat(self.start)

    @property
    def end_time(self) -> time:
        return time.fromisoformat(self.end)


@dataclass(frozen=True)
class ProductSpec:
    code: str
    name: str
    ideal_cycle_time_s: float
    target_cycle_time_s: float
    recipe_version: str = "1.0"
    unit: str = "pcs"


@dataclass(frozen=True)
class LineSpec:
    name: str
    machines: int
    products: tuple[str, ...]
    machine_type: str = "assembly"


@dataclass(frozen=True)
class SiteSpec:
    name: str
    timezone: str
    lines: tuple[LineSpec, ...]
    process_historian: str = "pi"  # which historian serves pressure and speed: pi or aveva
    currency: str = "EUR"
    hourly_rate: float = 40.0


@dataclass(frozen=True)
class BehaviourSpec:
    """How the machines behave; the defaults give an OEE of roughly 55-80 % per shift."""

    run_speed_min: float = 0.90
    run_speed_max: float = 0.97
    work_orders_per_day_min: int = 2
    work_orders_per_day_max: int = 4
    changeover_minutes_min: int = 15
    changeover_minutes_max: int = 45
    planned_maintenance_probability: float = 0.05
    planned_maintenance_minutes_min: int = 30
    planned_maintenance_minutes_max: int = 90
    breakdowns_per_hour: float = 0.15
    breakdown_seconds_min: int = 180
    breakdown_seconds_max: int = 2400
    starved_per_hour: float = 0.3
    starved_seconds_min: int = 60
    starved_seconds_max: int = 600
    adjust_per_hour: float = 0.1
    adjust_seconds_min: int = 120
    adjust_seconds_max: int = 480
    jams_per_hour: float = 4.0
    jam_seconds_min: int = 10
    jam_seconds_max: int = 110
    reject_rate: float = 0.015
    startup_reject_rate: float = 0.12
    startup_minutes: int = 10


@dataclass(frozen=True)
class PlantDescription:
    organization_name: str
    shifts: tuple[ShiftSpec, ...]
    products: tuple[ProductSpec, ...]
    sites: tuple[SiteSpec, ...]
    organization_id: str = "demo"
    id_prefix: str = ""
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)
    sensor_interval_seconds: int = 10
    microstop_threshold_seconds: int = 120
    behaviour: BehaviourSpec = field(default_factory=BehaviourSpec)

    @property
    def machine_count(self) -> int:
        return sum(line.machines for site in self.sites for line in site.lines)

    def scaled(self, machines: int, machines_per_line: int = 4) -> PlantDescription:
        """The same plant grown (or shrunk) to `machines` machines, lines spread over the sites in turn."""
        if machines < 1 or machines_per_line < 1:
            raise PlantConfigError("scaled: machines and machines_per_line must be at least 1")
        templates = [line for site in self.sites for line in site.lines]
        line_count = math.ceil(machines / machines_per_line)
        site_lines: list[list[LineSpec]] = [[] for _ in self.sites]
        for index in range(line_count):
            template = templates[index % len(templates)]
            count = min(machines_per_line, machines - index * machines_per_line)
            line = dataclasses.replace(template, name=f"Line {index + 1}", machines=count)
            site_lines[index % len(self.sites)].append(line)
        sites = tuple(
            dataclasses.replace(site, lines=tuple(lines))
            for site, lines in zip(self.sites, site_lines, strict=True)
            if lines
        )
        return dataclasses.replace(self, sites=sites)


def load_plant_description(path: Path | str | None = None) -> PlantDescription:
    """Read a plant description; `None` reads the packaged demo plant."""
    if path is None:
        text = resources.files("oee_pipelines.simulator").joinpath(DEMO_PLANT_FILE).read_text()
        name = DEMO_PLANT_FILE
    else:
        text = Path(path).read_text()
        name = Path(path).name
    try:
        return parse_plant_description(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise PlantConfigError(f"{name}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except PlantConfigError as exc:
        raise PlantConfigError(f"{name}: {exc}") from None


def parse_plant_description(data: Any) -> PlantDescription:
    description = _build(PlantDescription, data, "")
    _check_semantics(description)
    return description


def _place(where: str) -> str:
    return f"in {where}" if where else "at the top level"


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise PlantConfigError(f"expected a mapping {_place(where)}, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise PlantConfigError(f"unknown key {key!r} {_place(where)}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        if name not in data:
            if required:
                raise PlantConfigError(f"missing key {name!r} {_place(where)}")
            continue
        place = f"{where}.{name}" if where else name
        values[name] = _convert(hints[name], data[name], place)
    return cls(**values)


def _convert(hint: Any, value: Any, place: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, place)  # type: ignore[arg-type]
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list):
            raise PlantConfigError(f"{place}: expected a list, got {type(value).__name__}")
        item_hint = typing.get_args(hint)[0]
        return tuple(_convert(item_hint, item, f"{place}[{index}]") for index, item in enumerate(value))
    if isinstance(hint, types.UnionType):
        raise TypeError(f"unsupported field type {hint}")
    return _scalar(hint, value, place)


def _scalar(hint: type, value: Any, place: str) -> Any:
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if hint is bool and isinstance(value, bool):
        return value
    raise PlantConfigError(f"{place}: expected {hint.__name__}, got {value!r}")


def _check_semantics(description: PlantDescription) -> None:
    """Checks a type alone cannot express, each naming the offending place."""
    if not description.sites:
        raise PlantConfigError("sites: at least one site is needed")
    if any(day < 1 or day > 7 for day in description.weekdays):
        raise PlantConfigError("weekdays: ISO weekdays run from 1 (Monday) to 7 (Sunday)")
    if description.sensor_interval_seconds < 1 or 60 % description.sensor_interval_seconds:
        raise PlantConfigError("sensor_interval_seconds: must divide 60")
    for index, shift in enumerate(description.shifts):
        for key in ("start", "end"):
            try:
                time.fromisoformat(getattr(shift, key))
            except ValueError:
                raise PlantConfigError(
                    f"shifts[{index}].{key}: expected HH:MM, got {getattr(shift, key)!r}"
                ) from None
    product_codes = {product.code for product in description.products}
    for index, product in enumerate(description.products):
        if product.ideal_cycle_time_s <= 0 or product.target_cycle_time_s < product.ideal_cycle_time_s:
            raise PlantConfigError(f"products[{index}]: need 0 < ideal_cycle_time_s <= target_cycle_time_s")
    for site_index, site in enumerate(description.sites):
        try:
            ZoneInfo(site.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PlantConfigError(
                f"sites[{site_index}].timezone: unknown time zone {site.timezone!r}"
            ) from None
        if site.process_historian not in ("pi", "aveva"):
            raise PlantConfigError(f"sites[{site_index}].process_historian: expected pi or aveva")
        for line_index, line in enumerate(site.lines):
            place = f"sites[{site_index}].lines[{line_index}]"
            if line.machines < 1:
                raise PlantConfigError(f"{place}.machines: at least one machine is needed")
            unknown = [code for code in line.products if code not in product_codes]
            if unknown or not line.products:
                raise PlantConfigError(
                    f"{place}.products: unknown product {unknown[0] if unknown else '(none)'!r}"
                )
