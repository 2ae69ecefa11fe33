-- Historian backfills (issue 4): the machine a backfill was narrowed to, and indexes behind the audit trail.
-- Idempotent.

-- The API may narrow a backfill to one machine's tags (the seed's `machine_id`).
ALTER TABLE historian_backfill_jobs ADD COLUMN IF NOT EXISTS machine_id text REFERENCES machines (id);

-- Status is read by job id per organization, and rows are found again by their Dagster run.
CREATE INDEX IF NOT EXISTS historian_backfill_jobs_org_created
    ON historian_backfill_jobs (org_id, created_at DESC);
CREATE INDEX IF NOT EXISTS historian_backfill_jobs_run ON historian_backfill_jobs (dagster_run_id);
