"""Progress of long work, as typed events: a service reports them, an asset logs them, the CLI renders them.

A `Progress` says how far one task is (`done` of `total` units, `total` None when unknown) and the
counts so far (points, readings, rows). Its `message()` is the one-line text the assets log at INFO
(the Dagster UI's event log) and the CLI prints when its output is not a terminal; every message
starts with `PROGRESS_PREFIX`, so a reader of a run's event log can tell progress from other lines.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

PROGRESS_PREFIX = "progress: "
# How many intermediate reports a task of known total gives at most (plus the first and the last).
REPORTS_PER_TASK = 10


@dataclass(frozen=True)
class Progress:
    """`done` of `total` `unit` of `task`, and the running counts (name -> number so far)."""

    task: str
    done: int
    total: int | None
    unit: str
    counts: Mapping[str, int] = field(default_factory=dict)
    detail: str = ""

    @property
    def finished(self) -> bool:
        return self.total is not None and self.done >= self.total

    @property
    def fraction(self) -> float | None:
        if self.total is None:
            return None
        return 1.0 if self.total <= 0 else min(self.done / self.total, 1.0)

    def counts_text(self) -> str:
        return ", ".join(f"{count:,} {name}" for name, count in self.counts.items())

    def message(self) -> str:
        """`progress: historian_points 2/3 days; 1,234,567 points fetched - day 2025-01-14`."""
        amount = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
        text = f"{PROGRESS_PREFIX}{self.task} {amount} {self.unit}"
        if self.counts:
            text += f"; {self.counts_text()}"
        if self.detail:
            text += f" - {self.detail}"
        return text


ProgressCallback = Callable[[Progress], None]


def ignore_progress(progress: Progress) -> None:
    """The default callback: report nothing."""


def is_milestone(done: int, total: int, reports: int = REPORTS_PER_TASK) -> bool:
    """Whether `done` of `total` is worth a log line: the first, the last, and about `reports` between."""
    if done <= 1 or done >= total:
        return True
    step = max(1, math.ceil(total / reports))
    return done % step == 0
