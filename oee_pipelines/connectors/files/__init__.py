"""Import files from users: CSV and XLSX readers that keep every cell as text, safe file names,
and the shipped templates. Validation of what they read is in `oee_pipelines.domain.imports`."""

from oee_pipelines.connectors.files.errors import UnreadableFileError
from oee_pipelines.connectors.files.names import safe_file_name
from oee_pipelines.connectors.files.reader import read_import_file
from oee_pipelines.connectors.files.template_files import (
    build_downtime_template,
    build_log_template,
    template_path,
)

__all__ = [
    "UnreadableFileError",
    "build_downtime_template",
    "build_log_template",
    "read_import_file",
    "safe_file_name",
    "template_path",
]
