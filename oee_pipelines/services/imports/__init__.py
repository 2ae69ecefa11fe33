"""The import service: CSV/XLSX files (sensor logs, machine-state logs, production counts, downtime,
schedules) validated all or nothing and landed, for the inbox asset, the upload API and `oee import`.

It is the only writer of `import_jobs`, `import_rejected_rows`, the imported rows of
`oee_downtime_events` and `production_schedules` (`source_system='import'`), and the lake files under
`telemetry/source=import/`. The inbox folder (`inbox.py`) is where files wait and where they go when done.
"""

from oee_pipelines.services.imports.inbox import Inbox, InboxFile, InboxPathError, kind_of
from oee_pipelines.services.imports.service import (
    FileImporter,
    ImportOutcome,
    ImportSetupError,
    file_checksum,
)

__all__ = [
    "FileImporter",
    "ImportOutcome",
    "ImportSetupError",
    "Inbox",
    "InboxFile",
    "InboxPathError",
    "file_checksum",
    "kind_of",
]
