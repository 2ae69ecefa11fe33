"""Code location for the API test: `historian_points` with the project's resources, bound from the env
(OEE_CONFIG_FILE, OEE_DATABASE_URL, OEE_LAKE_ROOT) exactly as in `oee_pipelines.definitions`."""

import dagster as dg

from oee_pipelines.defs import resources as project_resources
from oee_pipelines.defs.historian.assets import historian_points

# Only `defs` may be a Definitions object at module level: Dagster loads the first one it finds.
defs = dg.Definitions.merge(project_resources.resources(), dg.Definitions(assets=[historian_points]))
