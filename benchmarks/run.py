"""`make bench`: run every benchmarks/bench_*.py, print one table, write results/latest.json.

Each benchmark module exposes `run(quick: bool) -> list[dict]`; a row holds `name`, `value`,
`unit`, and the baseline measured in the same run (`baseline_name`, `baseline_value`, `ratio`),
because absolute figures on a shared machine drift from run to run while ratios hold.
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
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "measured_at": datetime.now(UTC).isoformat(),
                "quick": args.quick,
                "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
                "rows": rows,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nwritten {RESULTS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
