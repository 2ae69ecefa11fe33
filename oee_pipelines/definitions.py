"""The Dagster entry point: every definition under `defs/`, discovered by folder.

The tree is built from the imported `oee_pipelines.defs` module rather than with
`dg.load_from_defs_folder`, which looks for pyproject.toml / dg.toml above the package: an installed
wheel has neither (oee_pipelines_tests/test_wheel.py runs a job from one).
"""

import importlib
import warnings
from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    with warnings.catch_warnings():
        # Dagster marks APIs the project chose on purpose as beta / preview (BackfillPolicy, the
        # component loader): the warnings printed dozens of lines on every `oee demo` and
        # `dagster dev` start, none of them about anything the user did.
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.ComponentTree(
            defs_module=importlib.import_module("oee_pipelines.defs"),
            project_root=Path(__file__).parent,
            code_location_name="oee_pipelines",
        ).build_defs()
