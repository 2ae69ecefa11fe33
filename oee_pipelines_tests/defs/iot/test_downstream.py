"""The daily downstream (`enriched_telemetry`) sees the hourly landing through its asset key only."""

from __future__ import annotations

import dagster as dg

from oee_pipelines.cli.dagster_home import load_definitions
from oee_pipelines.defs.partitions import daily_partitions, hourly_partitions

IOT_KEY = dg.AssetKey("iot_sensor_batches")


def test_the_landing_loads_with_every_other_definition() -> None:
    definitions = load_definitions()
    graph = definitions.resolve_asset_graph()
    assert graph.get(IOT_KEY).partitions_def == hourly_partitions
    assert definitions.resolve_job_def("iot_landing_job") is not None
    assert definitions.resolve_sensor_def("iot_buffer_sensor").job_name == "iot_landing_job"
    enriched = dg.AssetKey("enriched_telemetry")
    if enriched in graph.get_all_asset_keys():  # the OEE stage's asset, once it exists
        assert IOT_KEY in graph.get(enriched).parent_keys


def test_a_relanded_hour_marks_only_its_day_for_the_daily_downstream() -> None:
    @dg.asset(name="iot_sensor_batches", partitions_def=hourly_partitions)
    def landing() -> None: ...

    @dg.asset(
        name="enriched_telemetry",
        partitions_def=daily_partitions,
        deps=[IOT_KEY],
        # As the OEE stage rebuilds: days built before whose upstream changed (not history never built).
        automation_condition=dg.AutomationCondition.any_deps_updated().since_last_handled()
        & ~dg.AutomationCondition.missing(),
    )
    def enriched_telemetry() -> None: ...

    assets = [landing, enriched_telemetry]
    with dg.instance_for_test() as instance:
        for hour in ("2025-01-13-23:00", "2025-01-14-05:00"):
            dg.materialize([landing], instance=instance, partition_key=hour)
        for day in ("2025-01-13", "2025-01-14"):
            dg.materialize(assets, instance=instance, partition_key=day, selection=[enriched_telemetry])
        settled = dg.evaluate_automation_conditions(defs=assets, instance=instance)

        dg.materialize([landing], instance=instance, partition_key="2025-01-14-05:00")  # late re-landing
        after = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=settled.cursor)

    assert after.get_requested_partitions(dg.AssetKey("enriched_telemetry")) == {"2025-01-14"}
