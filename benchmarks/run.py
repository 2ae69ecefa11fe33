"""`make bench`: run every benchmarks/bench_*.py, print one table, write results/latest.json.

Each benchmark module exposes `run(quick: bool) -> list[dict]`; a row holds `name`, `value`,
`unit`, and the baseline measured in the same run (`baseline_name`, `baseline_value`, `ratio`),
because absolute figures on a shared machine drift from run to run while ratios hold.

A run of some benchmarks (`python -m benchmarks.run bench_x`) replaces only their rows in
results/latest.json; each benchmark keeps the time it was measured. The README's benchmark table
is regenerated from that file (never typed by hand) after every full-size run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "latest.json"
QUICK_RESULTS = BENCH_DIR / "results" / "quick.json"  # smoke runs never mix with full-size figures
README = BENCH_DIR.parent / "README.md"
README_START, README_END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def discover(only: list[str]) -> list[str]:
    names = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    return [n for n in names if not only or any(o in n for o in only)]


def format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)


def print_table(rows: list[dict]) -> None:
    headers = ["benchmark", "figure", "unit", "baseline", "baseline figure", "ratio"]
    table = [
        [
            r["name"], format_value(r.get("value")), r.get("unit", ""), r.get("baseline_name", ""),
            format_value(r.get("baseline_value")), format_value(r.get("ratio")),
        ]
        for r in rows
    ]  # fmt: skip
    widths = [
        max(len(h), *(len(row[i]) for row in table)) if table else len(h) for i, h in enumerate(headers)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"rows": []}


def merge_results(previous: dict, rows: list[dict], *, quick: bool) -> dict:
    """The rows of the benchmarks that ran replace theirs; the others stay as they were measured."""
    ran = {row["benchmark"] for row in rows}
    merged = [row for row in previous.get("rows", []) if row["benchmark"] not in ran] + rows
    merged.sort(key=lambda row: row["benchmark"])  # stable: each benchmark's rows keep their order
    return {
        "quick": quick,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "rows": merged,
    }


def readme_table(rows: list[dict]) -> str:
    lines = [
        "| benchmark | figure | baseline (same run) | ratio | measured |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        figure = f"{format_value(r.get('value'))} {r.get('unit', '')}".strip()
        baseline = r.get("baseline_name") or ""
        if r.get("baseline_value") is not None:
            baseline = f"{baseline}: {format_value(r['baseline_value'])}"
        measured = str(r.get("measured_at", ""))[:16].replace("T", " ")
        cells = [str(r["name"]), figure, baseline, format_value(r.get("ratio")), measured]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def replace_readme_table(readme: str, rows: list[dict]) -> str:
    """The block between the README's bench-table markers, rewritten from results/latest.json."""
    if README_START not in readme or README_END not in readme:
        return readme
    head, rest = readme.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    return f"{head}{README_START}\n{readme_table(rows)}\n{README_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("only", nargs="*", help="run only benchmarks whose name contains one of these")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    failures = 0
    for name in discover(args.only):
        started = time.monotonic()
        print(f"running {name} ...", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            for row in module.run(quick=args.quick):
                rows.append({"benchmark": name, **row})
        except Exception:
            failures += 1
            traceback.print_exc()
            rows.append({"benchmark": name, "name": f"{name}: FAILED", "value": None})
        print(f"  {name} took {time.monotonic() - started:.1f} s", flush=True)
    print()
    print_table(rows)
    measured_at = datetime.now(UTC).isoformat()
    for row in rows:
        row["measured_at"] = measured_at
    path = QUICK_RESULTS if args.quick else RESULTS
    results = merge_results(load_results(path), rows, quick=args.quick)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))
    if not args.quick and README.exists():
        README.write_text(replace_readme_table(README.read_text(), results["rows"]))
    print(f"\nwritten {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
