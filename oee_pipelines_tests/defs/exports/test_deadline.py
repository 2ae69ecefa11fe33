"""The exports factory builds its assets with the publish deadline: the policy and the check."""

from __future__ import annotations

import dagster as dg

from oee_pipelines.defs.exports.assets import export_assets, exports
from oee_pipelines.defs.monitoring.freshness import CHECK_JOB, CHECK_NAME


def test_every_export_asset_is_built_with_the_deadline_policy_and_check() -> None:
    unused = dg.ResourceDefinition.none_resource()
    resources = {"warehouse": unused, "lake": unused, "published_files": unused}
    defs = dg.Definitions.merge(exports(), dg.Definitions(resources=resources))
    built = {asset.key for asset in export_assets}
    specs = [spec for spec in defs.resolve_all_asset_specs() if spec.key in built]
    assert specs and all(spec.key.to_user_string().startswith("published_") for spec in specs)
    assert {spec.freshness_policy.deadline_cron for spec in specs if spec.freshness_policy} == {"30 2 * * *"}
    assert all(spec.freshness_policy is not None for spec in specs)
    checks = defs.resolve_asset_graph().asset_check_keys
    assert checks == {dg.AssetCheckKey(spec.key, CHECK_NAME) for spec in specs}
    assert defs.resolve_job_def(CHECK_JOB) is not None


def test_the_loaded_definitions_carry_the_deadline_on_every_published_asset() -> None:
    from oee_pipelines.definitions import defs

    graph = defs().resolve_asset_graph()
    for asset in export_assets:
        node = graph.get(asset.key)
        assert node.is_materializable and node.freshness_policy is not None
        assert dg.AssetCheckKey(asset.key, CHECK_NAME) in graph.asset_check_keys
