"""`python -m reliability.run [--short] [--only NAME ...]`: run the fault and load scenarios in turn.

Each scenario prints its figures and what was lost; the exit status is 1 when anything was lost
or a scenario could not run. `--short` is the CI size (seconds instead of minutes).
"""

from __future__ import annotations

import argparse
import time
import traceback
import warnings
from collections.abc import Callable, Sequence

from reliability.api_process import raise_open_files_limit
from reliability.common import ScenarioResult
from reliability.scenarios import (
    api_load,
    iot_kill,
    lake_disk_full,
    last_good_data,
    postgres_restart,
    source_down,
    websocket_fanout,
)

SCENARIOS: dict[str, Callable[[bool], ScenarioResult]] = {
    "postgres-restart": postgres_restart.run,
    "lake-disk-full": lake_disk_full.run,
    "source-down": source_down.run,
    "api-load": api_load.run,
    "websocket-fanout": websocket_fanout.run,
    "iot-kill": iot_kill.run,
    "last-good-data": last_good_data.run,
}


def run_scenario(name: str, short: bool) -> ScenarioResult:
    started = time.monotonic()
    try:
        result = SCENARIOS[name](short)
    except Exception as error:  # one broken scenario must not hide the others' figures
        result = ScenarioResult(name, {"error": traceback.format_exc(limit=3).strip()[-1500:]})
        result.lost.append(f"the scenario did not complete: {error!r}"[:300])
    result.figures["scenario time"] = f"{time.monotonic() - started:.1f} s"
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The fault and load suite.")
    parser.add_argument("--short", action="store_true", help="CI sizes: seconds per scenario")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="run only these scenarios")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    print(f"open files limit: {raise_open_files_limit()}", flush=True)
    results = []
    for name in args.only or SCENARIOS:
        result = run_scenario(name, args.short)
        print(result.report(), flush=True)
        results.append(result)
    failed = [result.name for result in results if not result.passed]
    print(
        f"\n{len(results) - len(failed)} of {len(results)} scenarios lost nothing"
        + (f"; lost: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
