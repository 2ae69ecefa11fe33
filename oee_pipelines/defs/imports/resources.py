"""The import inbox resource, bound from the settings (`OEE_IMPORT_INBOX`, `OEE_ORG_ID`) at load time."""

import dagster as dg

from oee_pipelines.resources.imports import ImportInboxResource
from oee_pipelines.settings import Settings


@dg.definitions
def import_resources() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions(
        resources={
            "import_inbox": ImportInboxResource(root=str(settings.import_inbox), org_id=settings.org_id)
        }
    )
