"""The layering rules of docs/architecture.md, checked on the imports each module declares (read with `ast`).

- `domain` imports nothing of the project but itself;
- `connectors` imports only `domain`, itself and `observability`;
- `observability` (the metric definitions and their HTTP exposition: a leaf every layer may use)
  imports nothing of the project but itself;
- `services` imports nothing from `defs`, `resources`, `api` or `cli`;
- `api` and `cli` import nothing from `defs` or `resources` (and `api` nothing from `cli`);
- `resources` imports nothing from `defs`, `api` or `cli`; `defs` nothing from `api` or `cli`;
- no production module imports `simulator`, except `simulator` itself and the CLI commands that start
  the simulated plant for the demo (`cli/demo.py` and its step `cli/onboarding.py`, `cli/up.py`,
  `cli/iot.py`'s demo helpers);
- no import circle between the top-level packages, nor between modules.

Every import counts, also one inside a function or under `TYPE_CHECKING`: a lazy import is still a
dependency. Each failure lists every violation with its file and line.

And for the tests' harness: no module of the tests, `benchmarks/` or `reliability/` imports a conftest
or a test module; what they share lives in `oee_pipelines_tests/support/`.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "oee_pipelines"
PACKAGE_ROOT = Path(__file__).resolve().parents[1] / PACKAGE
HARNESS_ROOTS = [PACKAGE_ROOT.parent / name for name in ("oee_pipelines_tests", "benchmarks", "reliability")]

# layer -> the project layers it must not import (its own layer is always allowed).
FORBIDDEN: dict[str, set[str]] = {
    "services": {"defs", "resources", "api", "cli"},
    "resources": {"defs", "api", "cli"},
    "api": {"defs", "resources", "cli"},
    "cli": {"defs", "resources"},
    "defs": {"api", "cli"},
}
# layer -> the only project layers it may import.
ONLY: dict[str, set[str]] = {
    "domain": {"domain"},
    "connectors": {"domain", "connectors", "observability"},
    "observability": {"observability"},
}
# The CLI starts the simulated plant (servers, MQTT publisher, plant files) for the demo and `oee up`.
SIMULATOR_USERS = {
    f"{PACKAGE}.cli.demo",
    f"{PACKAGE}.cli.onboarding",  # the demo's onboarding step: the simulator writes its plant model file
    f"{PACKAGE}.cli.up",
    f"{PACKAGE}.cli.iot",  # its demo helpers publish the simulated plant's sensors
}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    path: Path
    line: int
    imported: str  # dotted module name inside the project

    def where(self) -> str:
        return f"{self.path.relative_to(PACKAGE_ROOT.parent)}:{self.line}"


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    """`oee_pipelines.defs.mes.assets` -> `defs`; `oee_pipelines.settings` -> `settings`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _known(module: str, modules: set[str]) -> str:
    """The longest prefix of `module` that is a module of the project (an imported name is not one)."""
    parts = module.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    return ".".join(parts)


def project_imports(root: Path = PACKAGE_ROOT) -> list[Import]:
    """Every import of a project module by a project module, with file and line."""
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(path, root) for path in paths}
    found: dict[Import, None] = {}  # in file order, each (module, line, imported module) once
    for path in paths:
        importer = module_name(path, root)
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, importer, is_package):
                if target == PACKAGE or target.startswith(PACKAGE + "."):
                    imported = _known(target, modules)
                    if imported and imported != importer:
                        found[Import(importer, path, node.lineno, imported)] = None
    return list(found)


def _targets(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    else:
        if node.level:
            base = importer.split(".")
            base = base if is_package else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            stem = ".".join([*base, node.module] if node.module else base)
        else:
            stem = node.module or ""
        # `from pkg import name`: a submodule when `pkg.name` is one, else a name of `pkg`.
        yield from (f"{stem}.{alias.name}" for alias in node.names)


def layer_violations(imports: list[Import]) -> list[str]:
    problems = []
    for imp in imports:
        source, target = layer(imp.importer), layer(imp.imported)
        if source == target:
            continue
        if source in ONLY and target not in ONLY[source]:
            allowed = ", ".join(sorted(ONLY[source]))
            problems.append(
                f"{imp.where()}: {imp.importer} imports {imp.imported} ({source} imports only {allowed})"
            )
        elif target in FORBIDDEN.get(source, set()):
            problems.append(
                f"{imp.where()}: {imp.importer} imports {imp.imported} ({source} must not import {target})"
            )
    return problems


def simulator_violations(imports: list[Import]) -> list[str]:
    return [
        f"{imp.where()}: {imp.importer} imports {imp.imported} "
        "(only the CLI's demo commands may start the simulator)"
        for imp in imports
        if layer(imp.imported) == "simulator"
        and layer(imp.importer) != "simulator"
        and imp.importer not in SIMULATOR_USERS
    ]


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return components


def _shortest_cycle(start: str, edges: dict[str, set[str]], members: set[str]) -> list[str]:
    """The shortest path start -> ... -> start inside `members` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(edges.get(node, set()) & members):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    return []


def circle_violations(imports: list[Import], key: str) -> list[str]:
    """Import circles between top-level packages (`key="layer"`) or between modules (`key="module"`):
    for each circle its shortest form, and for each step the import that makes it (file:line)."""
    name = layer if key == "layer" else (lambda module: module)
    edges: dict[str, set[str]] = {}
    examples: dict[tuple[str, str], list[Import]] = {}
    for imp in imports:
        source, target = name(imp.importer), name(imp.imported)
        if source != target and source and target:
            edges.setdefault(source, set()).add(target)
            examples.setdefault((source, target), []).append(imp)
    problems = []
    for component in _cycles(edges):
        members = set(component)
        seen: set[frozenset[tuple[str, str]]] = set()
        for start in component:
            cycle = _shortest_cycle(start, edges, members)
            steps = list(itertools.pairwise(cycle))
            if not steps or frozenset(steps) in seen:
                continue
            seen.add(frozenset(steps))
            lines = [f"circle {' -> '.join(cycle)}:"]
            for step in steps:
                first, *others = examples[step]
                more = f" (and {len(others)} more)" if others else ""
                lines.append(f"  {first.where()}: {first.importer} imports {first.imported}{more}")
            problems.append("\n".join(lines))
    return problems


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return project_imports()


def fail_with(problems: list[str], rule: str) -> None:
    if problems:
        pytest.fail(f"{rule}: {len(problems)} violation(s)\n" + "\n".join(problems), pytrace=False)


def test_the_import_reader_sees_the_project(imports: list[Import]) -> None:
    assert len(imports) > 100
    layers = {layer(imp.importer) for imp in imports}
    assert layers >= {"defs", "domain", "connectors", "services", "api", "cli"}
    assert any(imp.imported == f"{PACKAGE}.domain.telemetry" for imp in imports)


def test_each_layer_imports_only_what_it_may(imports: list[Import]) -> None:
    fail_with(layer_violations(imports), "layering (docs/architecture.md)")


def test_only_the_demo_commands_import_the_simulator(imports: list[Import]) -> None:
    fail_with(simulator_violations(imports), "simulator imported by production code")


def test_no_import_circle_between_top_level_packages(imports: list[Import]) -> None:
    fail_with(circle_violations(imports, "layer"), "import circles between packages")


def test_no_import_circle_between_modules(imports: list[Import]) -> None:
    fail_with(circle_violations(imports, "module"), "import circles between modules")


def test_nothing_imports_a_conftest_or_a_test_module() -> None:
    problems = []
    for root in HARNESS_ROOTS:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    # `from package import name` imports a module only when `package/name.py` exists.
                    folder = PACKAGE_ROOT.parent.joinpath(*node.module.split("."))
                    modules = [a.name for a in node.names if (folder / f"{a.name}.py").exists()]
                    names = [node.module, *(f"{node.module}.{name}" for name in modules)]
                else:
                    continue
                for name in names:
                    last = name.rsplit(".", 1)[-1]
                    if last == "conftest" or last.startswith("test_"):
                        where = path.relative_to(PACKAGE_ROOT.parent)
                        problems.append(f"{where}:{node.lineno}: imports {name} (move it to support/)")
                        break
    fail_with(problems, "a conftest or test module imported")
