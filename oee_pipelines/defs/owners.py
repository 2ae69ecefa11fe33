"""Who owns each asset group: the team a Dagster UI user asks about an asset (one owner per group).

Every asset passes `owners=owners_of(<its group>)`; `oee_pipelines_tests/defs/test_asset_catalog.py`
checks that each asset has owners and that they are its group's.
"""

PLATFORM = (
    "team:oee-platform"  # sources and reference data: the plant model, MES, ERP, historian, IoT, imports
)
# What is computed and published: OEE, the data mart, the published files.
ANALYTICS = "team:oee-analytics"

OWNERS_BY_GROUP: dict[str, str] = {
    "reference": PLATFORM,
    "mes": PLATFORM,
    "erp": PLATFORM,
    "historian": PLATFORM,
    "iot": PLATFORM,
    "imports": PLATFORM,
    "oee": ANALYTICS,
    "exports": ANALYTICS,
}


def owners_of(group: str) -> list[str]:
    """The owners of an asset group (KeyError for a group with no owner: add it above)."""
    return [OWNERS_BY_GROUP[group]]
