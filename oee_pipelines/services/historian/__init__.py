"""Historian backfills without Dagster: the engine (`backfill`), its day folders (`day_parts`), the
request a run is narrowed to (`run_tags`), and the tables it owns: `historian_backfill_jobs` (`jobs`,
its only writer) and the `UNMAPPED_STATE` alerts of `data_quality_alerts` (`state_alerts`)."""
