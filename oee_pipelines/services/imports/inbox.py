"""The import inbox folder: which files wait there, their import type, and where they go when done.

Drop a file into the inbox (`OEE_IMPORT_INBOX`, default `<data dir>/inbox`) either in a subfolder named
after its type (`sensor_log/`, `downtime/`, `schedule/`) or at the top with a name starting with the
type (`sensor_log_line1.csv`, `downtime-week3.xlsx`, `schedules.csv`). Copy files in under a name the
inbox ignores (starting with `.` or `~$`, or ending in `.part`/`.tmp`) and rename them when complete.
Done files move to `processed/` (landed) or `rejected/` (nothing landed) as `<job id>-<name>`, with
`<job id>-<name>.report.json` beside them (the import report: the first 1,000 errors and every error
counted by kind).

Plain Python: the sensor, the asset and the demo share it. The import service moves the files.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from oee_pipelines.domain.imports import IMPORT_KINDS
from oee_pipelines.services.imports.service import ImportOutcome

PROCESSED = "processed"
REJECTED = "rejected"
_IGNORED_PREFIXES = (".", "~$")
_IGNORED_SUFFIXES = (".part", ".tmp", ".report.json")


class InboxPathError(ValueError):
    """A path given to the inbox is not a file waiting in it."""


@dataclass(frozen=True)
class InboxFile:
    path: Path
    relative: str
    kind: str | None  # None: neither the folder nor the name says which import type it is
    signature: str  # size and modification time: a rewritten file is a new file


class Inbox:
    def __init__(self, root: Path) -> None:
        self.root = root

    def pending(self) -> list[InboxFile]:
        """Files waiting at the top of the inbox or in a type subfolder, oldest name first."""
        if not self.root.is_dir():
            return []
        folders = [self.root, *(self.root / kind for kind in IMPORT_KINDS)]
        files = [path for folder in folders if folder.is_dir() for path in folder.iterdir() if _waiting(path)]
        return [self._describe(path) for path in sorted(files)]

    def waiting_file(self, path: str | Path) -> Path:
        """`path` resolved, if it is a file waiting in this inbox (never a path outside it)."""
        resolved = Path(path).resolve()
        root = self.root.resolve()
        if resolved.parent not in {root, *(root / kind for kind in IMPORT_KINDS)} or not resolved.is_file():
            raise InboxPathError(f"{path} is not a file waiting in the import inbox {root}")
        return resolved

    def finish(self, path: Path, outcome: ImportOutcome) -> Path:
        """Move a done file to processed/ or rejected/ and write its report beside it."""
        folder = self.root / (PROCESSED if outcome.landed else REJECTED)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{outcome.job_id}-{path.name}"
        report = target.with_name(target.name + ".report.json")
        report.write_text(
            json.dumps(outcome.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        shutil.move(path, target)
        return target

    def _describe(self, path: Path) -> InboxFile:
        stat = path.stat()
        return InboxFile(
            path=path,
            relative=path.relative_to(self.root).as_posix(),
            kind=kind_of(path, self.root),
            signature=f"{stat.st_size}:{stat.st_mtime_ns}",
        )


def kind_of(path: Path, root: Path) -> str | None:
    """The import type from the subfolder, else from the start of the file name."""
    if path.parent != root:
        return path.parent.name if path.parent.name in IMPORT_KINDS else None
    name = path.name.lower()
    return next((kind for kind in IMPORT_KINDS if name.startswith(kind)), None)


def _waiting(path: Path) -> bool:
    name = path.name
    return path.is_file() and not name.startswith(_IGNORED_PREFIXES) and not name.endswith(_IGNORED_SUFFIXES)
