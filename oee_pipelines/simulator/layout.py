"""The plant description resolved into entities with their ids (sites, lines, machines, shifts, ...).

Ids are numbered in description order and carry the description's `id_prefix`, so they are
globally unique and stable for a given description.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from oee_pipelines.simulator.description import BreakSpec, PlantDescription, ProductSpec, ShiftSpec, SiteSpec

FIRST_NAMES = (
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elif",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kim",
    "Lea",
)
LAST_NAMES = (
    "Schmidt",
    "Garcia",
    "Nowak",
    "Miller",
    "Rossi",
    "Kowalski",
    "Fischer",
    "Lopez",
    "Weber",
    "Brown",
)


@dataclass(frozen=True)
class Site:
    index: int
    id: str
    spec: SiteSpec

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.spec.timezone)


@dataclass(frozen=True)
class Product:
    id: str
    spec: ProductSpec


@dataclass(frozen=True)
class Recipe:
    id: str
    product: Product
    line_id: str


@dataclass(frozen=True)
class Line:
    index: int
    id: str
    code: str
    name: str
    site: Site
    machine_type: str
    recipes: tuple[Recipe, ...]  # one per product the line makes, in description order


@dataclass(frozen=True)
class Machine:
    index: int
    id: str
    code: str
    line: Line
    position: int  # 1-based place on its line


@dataclass(frozen=True)
class Shift:
    id: str
    number: int
    site: Site
    spec: ShiftSpec

    @property
    def breaks(self) -> tuple[BreakSpec, ...]:
        return self.spec.breaks


@dataclass(frozen=True)
class Operator:
    id: str
    name: str
    role: str
    site: Site
    shift_number: int
    line: Line | None  # None for a shift lead, who covers every line of the site


class PlantLayout:
    """Every entity of the plant with its id; built once per description."""

    def __init__(self, description: PlantDescription) -> None:
        self.description = description
        prefix = description.id_prefix
        self.sites = [Site(i, f"{prefix}SITE-{i + 1:02d}", spec) for i, spec in enumerate(description.sites)]
        self.products = [
            Product(f"{prefix}PROD-{i + 1:03d}", spec) for i, spec in enumerate(description.products)
        ]
        products_by_code = {product.spec.code: product for product in self.products}
        self.lines: list[Line] = []
        self.machines: list[Machine] = []
        self.recipes: list[Recipe] = []
        for site in self.sites:
            for line_spec in site.spec.lines:
                line_id = f"{prefix}LINE-{len(self.lines) + 1:03d}"
                recipes = tuple(
                    Recipe(f"{prefix}RCP-{len(self.recipes) + n + 1:03d}", products_by_code[code], line_id)
                    for n, code in enumerate(line_spec.products)
                )
                self.recipes.extend(recipes)
                line = Line(
                    len(self.lines),
                    line_id,
                    f"L{len(self.lines) + 1:03d}",
                    line_spec.name,
                    site,
                    line_spec.machine_type,
                    recipes,
                )
                self.lines.append(line)
                for position in range(1, line_spec.machines + 1):
                    number = len(self.machines) + 1
                    self.machines.append(
                        Machine(number - 1, f"{prefix}MACHINE-{number:03d}", f"M{number:03d}", line, position)
                    )
        self.shifts = [
            Shift(f"{prefix}SHIFT-{site.index * len(description.shifts) + n + 1}", n + 1, site, spec)
            for site in self.sites
            for n, spec in enumerate(description.shifts)
        ]
        self.operators = self._operators()

    def _operators(self) -> list[Operator]:
        operators: list[Operator] = []
        for site in self.sites:
            for number in range(1, len(self.description.shifts) + 1):
                crew: list[tuple[str, Line | None]] = [("shift_lead", None)]
                crew += [("machine_operator", line) for line in self.lines if line.site is site]
                for role, line in crew:
                    n = len(operators)
                    name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[(n // 3) % len(LAST_NAMES)]}"
                    operators.append(
                        Operator(
                            f"{self.description.id_prefix}OP-{n + 1:04d}", name, role, site, number, line
                        )
                    )
        return operators

    def machine(self, machine_id: str) -> Machine:
        for machine in self.machines:
            if machine.id == machine_id:
                return machine
        raise KeyError(f"no machine {machine_id!r} in the plant")

    def site_shifts(self, site: Site) -> list[Shift]:
        return [shift for shift in self.shifts if shift.site is site]

    def line_machines(self, line: Line) -> list[Machine]:
        return [machine for machine in self.machines if machine.line is line]
