"""The Dagster entry point: every definition under `defs/`, discovered by folder."""

from pathlib import Path

import dagster as dg

from oee_pipelines.defs.monitoring.freshness import with_publish_deadline


@dg.definitions
def defs() -> dg.Definitions:
    # The publish deadline wraps every `published_*` asset, wherever it is defined.
    return with_publish_deadline(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
