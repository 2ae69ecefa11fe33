"""Run many `oee` command lines fast: import the CLI once, then fork a process per command line.

Every `oee` start imports Dagster, pandas and FastAPI (about 6 s of CPU). A test that runs every
subcommand's `--help` and a failing case of each would spend minutes importing; this runner pays
that once. Each command line still runs in its own process, as the console script runs it
(`sys.argv = ["oee", ...]; sys.exit(main())`), with its stdout and stderr captured from the file
descriptors, so a warning or traceback printed by any library shows up. What the import itself
prints to stderr is reported as `import_stderr`.

    python -m oee_pipelines_tests.cli.oee_runner < cases.json > results.json

Input: a JSON list of `{"argv": [...], "env": {...}}` (env: added to the runner's environment in the
child before `main` runs). Output: `{"import_stderr": str, "results": [{"argv", "returncode",
"stdout", "stderr", "seconds"}, ...]}` in the input's order; `returncode` is null after the timeout.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PARALLEL = 4
TIMEOUT_SECONDS = 120.0


def _child(argv: list[str], env: dict[str, str], out: Path, err: Path) -> None:
    """In the forked process: run `oee argv` with fds 1 and 2 on the files; never returns."""
    code = 70
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
        os.environ.update(env)
        os.setpgid(0, 0)  # its own group: a timeout kills what it started, too
        from oee_pipelines.cli import main

        sys.argv = ["oee", *argv]
        try:
            code = main()
        except SystemExit as exit_:  # argparse, --version, `raise SystemExit("message")`
            if isinstance(exit_.code, str):
                print(exit_.code, file=sys.stderr)
                code = 1
            else:
                code = exit_.code or 0
    except BaseException:  # what the console script would print, then its exit code
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def run_cases(cases: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = [{} for _ in cases]
    running: dict[int, tuple[int, float]] = {}  # pid -> (case index, start)
    pending = list(range(len(cases)))
    while pending or running:
        while pending and len(running) < PARALLEL:
            index = pending.pop(0)
            out, err = folder / f"{index}.out", folder / f"{index}.err"
            pid = os.fork()
            if pid == 0:
                _child(cases[index]["argv"], cases[index].get("env", {}), out, err)
            running[pid] = (index, time.monotonic())
        time.sleep(0.02)
        for pid, (index, started) in list(running.items()):
            waited, status = os.waitpid(pid, os.WNOHANG)
            elapsed = time.monotonic() - started
            if waited == 0 and elapsed < TIMEOUT_SECONDS:
                continue
            if waited == 0:  # timed out: stop the child and whatever it started
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                returncode = None
            else:
                returncode = os.waitstatus_to_exitcode(status)
            del running[pid]
            results[index] = {
                "argv": cases[index]["argv"],
                "returncode": returncode,
                "stdout": (folder / f"{index}.out").read_text(errors="replace"),
                "stderr": (folder / f"{index}.err").read_text(errors="replace"),
                "seconds": round(elapsed, 2),
            }
    return results


def main() -> None:
    cases = json.load(sys.stdin)
    with tempfile.TemporaryDirectory(prefix="oee-runner-") as folder:
        import_err = Path(folder) / "import.err"
        saved = os.dup(2)
        os.dup2(os.open(import_err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
        try:
            from oee_pipelines.cli import COMMAND_GROUP_NAMES, command_group

            for name in COMMAND_GROUP_NAMES:  # the imports the commands pay, done once here
                command_group(name)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
        results = run_cases(cases, Path(folder))
        json.dump({"import_stderr": import_err.read_text(errors="replace"), "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
