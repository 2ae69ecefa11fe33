"""The job the inbox sensor launches, one run per file (its config names the file)."""

import dagster as dg

from oee_pipelines.defs.executor import LIGHT_JOB_EXECUTOR
from oee_pipelines.defs.imports.assets import IMPORTED_FILES

IMPORT_FILE_JOB = "import_file_job"

import_file_job = dg.define_asset_job(
    IMPORT_FILE_JOB,
    selection=dg.AssetSelection.assets(IMPORTED_FILES),
    description="Import one inbox file (run config: ops.imported_files.config.path, import_type).",
    executor_def=LIGHT_JOB_EXECUTOR,  # one step, one file
)


def import_file_run_config(path: str, import_type: str, quarantine_invalid: bool = False) -> dict:
    config = {"path": path, "import_type": import_type, "quarantine_invalid": quarantine_invalid}
    return {"ops": {IMPORTED_FILES: {"config": config}}}
