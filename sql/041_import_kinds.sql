-- Spreadsheet-only plants (issue 14 item 5): machine-state logs and production counts are import types
-- beside sensor logs, downtime and schedules. Both land as telemetry in the lake
-- (telemetry/source=import/); `import_jobs` records them like the others. Idempotent.

ALTER TABLE import_jobs DROP CONSTRAINT IF EXISTS import_jobs_import_type_check;
ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_import_type_check CHECK (
    import_type IN ('sensor_log', 'machine_state_log', 'production_count', 'downtime', 'schedule')
);
