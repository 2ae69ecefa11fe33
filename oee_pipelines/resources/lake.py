"""The lake resource: a local folder by default, or an object-store URL (s3://...) through fsspec."""

import dagster as dg

from oee_pipelines.storage.lake import Lake


class LakeResource(dg.ConfigurableResource):
    root: str = "data/lake"

    def lake(self) -> Lake:
        return Lake(self.root)
