"""The import inbox resource, bound from the settings (`OEE_IMPORT_INBOX`, `OEE_ORG_ID`) at load time."""

from pathlib import Path

import dagster as dg

from oee_pipelines.defs.imports.inbox import Inbox
from oee_pipelines.settings import Settings


class ImportInboxResource(dg.ConfigurableResource):
    """The inbox folder the sensor watches, and the organization its files are imported for."""

    root: str
    org_id: str = "demo"

    def inbox(self) -> Inbox:
        return Inbox(Path(self.root))


@dg.definitions
def import_resources() -> dg.Definitions:
    settings = Settings.from_env()
    return dg.Definitions(
        resources={
            "import_inbox": ImportInboxResource(root=str(settings.import_inbox), org_id=settings.org_id)
        }
    )
