"""The published-files resource: where the daily export files and their manifest are written."""

from pathlib import Path
from typing import Any

import dagster as dg

from oee_pipelines.exports.publish import DayExport, PublishedFile, publish_day, rebuild_manifests


class PublishedFilesResource(dg.ConfigurableResource):
    """The published folder (`Settings.published_dir`, `OEE_PUBLISHED_DIR`): a local or mounted path."""

    root: str = "data/published"

    @property
    def path(self) -> Path:
        return Path(self.root)

    def publish(self, export: DayExport) -> list[PublishedFile]:
        return publish_day(self.path, export)

    def rebuild_manifests(self) -> dict[str, Any]:
        return rebuild_manifests(self.path)
