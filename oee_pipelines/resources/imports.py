"""The import inbox as a Dagster resource: the folder the inbox sensor watches and the organization
its files are imported for. The import work itself is `oee_pipelines.services.imports`."""

from pathlib import Path

import dagster as dg

from oee_pipelines.services.imports import Inbox


class ImportInboxResource(dg.ConfigurableResource):
    """The inbox folder the sensor watches, and the organization its files are imported for."""

    root: str
    org_id: str = "demo"

    def inbox(self) -> Inbox:
        return Inbox(Path(self.root))
