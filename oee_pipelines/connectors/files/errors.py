"""The error every file reader raises when a file cannot be read as a table at all."""

from __future__ import annotations

from oee_pipelines.connectors.errors import SourceDataError

SYSTEM = "file import"


class UnreadableFileError(SourceDataError):
    """The file is empty, binary, or not the format its name says: no row could be checked."""

    def __init__(self, file_name: str, reason: str) -> None:
        super().__init__(SYSTEM, f"read {file_name}", reason)
        self.file_name = file_name
