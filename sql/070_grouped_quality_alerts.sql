-- Grouped data-quality alerts (issue 20, item 6): the telemetry rules write one row per sensor
-- (machine_id + metric_name), rule (alert_type) and UTC hour (timestamp_utc = the hour's start)
-- instead of one per offending reading. A row carries how many readings it stands for and the
-- first and last offending reading (time and value); see docs/monitoring.md. Rows of other stages
-- (UNMAPPED_STATE, PERFORMANCE_ABOVE_LIMIT, ...) keep reading_count 1. Written only by
-- services/quality_alerts.py, which replaces a day's rows per rule (no unique index: rows written
-- per reading before this migration may share a sensor, rule and hour until their day is re-run).
-- Idempotent.
ALTER TABLE data_quality_alerts
    ADD COLUMN IF NOT EXISTS reading_count integer NOT NULL DEFAULT 1 CHECK (reading_count >= 0),
    ADD COLUMN IF NOT EXISTS first_reading_at timestamptz,
    ADD COLUMN IF NOT EXISTS first_value double precision,
    ADD COLUMN IF NOT EXISTS last_reading_at timestamptz,
    ADD COLUMN IF NOT EXISTS last_value double precision;

COMMENT ON COLUMN data_quality_alerts.reading_count IS
    'offending readings (OUT_OF_RANGE, DUPLICATE), silences (GAP) or missing readings (LOW_COMPLETENESS) in the hour';
COMMENT ON COLUMN data_quality_alerts.first_reading_at IS 'time of the first offending reading (GAP: the reading before the silence)';
COMMENT ON COLUMN data_quality_alerts.last_reading_at IS 'time of the last offending reading (GAP: the reading that ended the silence)';

