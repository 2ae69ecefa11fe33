"""Progress of the CLI's long work: a rich progress bar on a terminal, plain periodic lines otherwise.

`ProgressDisplay` renders `domain.progress.Progress` events. On a terminal it draws one bar per task
with `rich` (installed with Dagster); when the output is not a terminal (CI logs, `make demo`'s tee)
it prints one plain line per task at most every `interval` seconds, plus the first and the last, so a
log shows counts without flooding. `OEE_PROGRESS=rich|plain|off` forces a mode.

The display entered last is `active_display()`, so steps deep in a command (the demo's IoT and import
steps) report to the bar the command opened, or print plain lines when none is open.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Literal, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from oee_pipelines.domain.progress import PROGRESS_PREFIX, Progress

MODE_VARIABLE = "OEE_PROGRESS"
Mode = Literal["rich", "plain", "off"]
MODES: tuple[Mode, ...] = ("rich", "plain", "off")
PLAIN_INTERVAL_SECONDS = 5.0

_ACTIVE: ContextVar[ProgressDisplay | None] = ContextVar("oee_progress_display", default=None)


def progress_mode(stream: TextIO, environ: dict[str, str] | None = None) -> Mode:
    """`OEE_PROGRESS` when it names a mode, else rich on a terminal and plain lines otherwise."""
    wanted = (environ if environ is not None else os.environ).get(MODE_VARIABLE, "").strip().lower()
    for mode in MODES:
        if wanted == mode:
            return mode
    isatty = getattr(stream, "isatty", None)
    return "rich" if callable(isatty) and isatty() else "plain"


def plain_line(progress: Progress, elapsed_seconds: float) -> str:
    """`  [  12.3 s] historian_points 2/3 days; 1,234 points fetched - day 2025-01-14`."""
    return f"  [{elapsed_seconds:6.1f} s] {progress.message().removeprefix(PROGRESS_PREFIX)}"


class ProgressDisplay:
    """Shows progress events and notes; use as a context manager (it opens and closes the bar)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        mode: Mode | None = None,
        interval: float = PLAIN_INTERVAL_SECONDS,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.mode: Mode = mode or progress_mode(self.stream)
        self.interval = interval
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._last_printed: dict[str, float] = {}
        self._last_line: dict[str, str] = {}
        self._tasks: dict[str, TaskID] = {}
        self._bars: RichProgress | None = None
        self._token: Token[ProgressDisplay | None] | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.mode == "rich":
            console = Console(file=self.stream, force_terminal=True)
            self._bars = RichProgress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                console=console,
                # The CLI's own prints (and Dagster's warnings) go above the bars, not through them.
                redirect_stdout=self.stream is sys.stdout,
                redirect_stderr=self.stream is sys.stdout,
            )
            self._bars.start()
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None
        if self._bars is not None:
            self._bars.stop()
            self._bars = None

    def update(self, progress: Progress) -> None:
        """Show how far `progress.task` is: its bar, or a plain line when one is due."""
        if self.mode == "off":
            return
        with self._lock:
            if self._bars is not None:
                self._update_bar(self._bars, progress)
            else:
                self._print_plain(progress)

    def note(self, text: str) -> None:
        """A line that is always shown (a step that started or ended), above the bars on a terminal."""
        if self.mode == "off":
            return
        with self._lock:
            if self._bars is not None:
                self._bars.console.print(text, markup=False, highlight=False)
            else:
                print(text, file=self.stream, flush=True)

    def finish(self, task: str) -> None:
        """Forget `task`: its bar stops, and a later task of the same name starts a new one."""
        with self._lock:
            task_id = self._tasks.pop(task, None)
            if task_id is not None and self._bars is not None:
                self._bars.remove_task(task_id)
            self._last_printed.pop(task, None)
            self._last_line.pop(task, None)

    def _update_bar(self, bars: RichProgress, progress: Progress) -> None:
        description = f"{progress.task} ({progress.unit})"
        counts = progress.counts_text() + (f"  {progress.detail}" if progress.detail else "")
        task_id = self._tasks.get(progress.task)
        if task_id is None:
            task_id = bars.add_task(description, total=progress.total, counts=counts)
            self._tasks[progress.task] = task_id
        bars.update(task_id, completed=progress.done, total=progress.total, counts=counts)

    def _print_plain(self, progress: Progress) -> None:
        now = time.monotonic()
        last = self._last_printed.get(progress.task)
        line = plain_line(progress, now - self._started)
        text = line.split("] ", 1)[1]
        due = last is None or progress.finished or now - last >= self.interval
        if not due or self._last_line.get(progress.task) == text:
            return
        self._last_printed[progress.task] = now
        self._last_line[progress.task] = text
        print(line, file=self.stream, flush=True)


def active_display() -> ProgressDisplay | None:
    """The display a command opened and has not closed yet, if any."""
    return _ACTIVE.get()


def report(progress: Progress) -> None:
    """Show `progress` on the active display; outside one, nothing (the caller prints its own result)."""
    display = active_display()
    if display is not None:
        display.update(progress)


def note(text: str) -> None:
    """`text` above the active display's bars, or printed as is when none is open."""
    display = active_display()
    if display is not None:
        display.note(text)
    else:
        print(text, flush=True)
