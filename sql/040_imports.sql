-- CSV/Excel imports (issue 6): one successful import per file content, and the quarantine of rows
-- turned away by an import run with quarantine_invalid. Idempotent.

-- The same file (same sha256) lands once per organization: a second SUCCESS/PARTIAL job for a checksum
-- fails on this index even when two uploads race. Refused, rejected and failed attempts stay recorded.
CREATE UNIQUE INDEX IF NOT EXISTS import_jobs_landed_checksum
    ON import_jobs (org_id, checksum) WHERE status IN ('SUCCESS', 'PARTIAL');
CREATE INDEX IF NOT EXISTS import_jobs_org_created ON import_jobs (org_id, created_at DESC);

-- Rows an import with quarantine_invalid did not land: the cells as written (keyed by the template's
-- column names), the row number the user sees, and every reason, so they can be fixed and re-imported.
CREATE TABLE IF NOT EXISTS import_rejected_rows (
    id          bigserial PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id),
    job_id      bigint NOT NULL REFERENCES import_jobs (job_id) ON DELETE CASCADE,
    row_number  integer NOT NULL,
    cells       jsonb NOT NULL,
    errors      text NOT NULL
);
CREATE INDEX IF NOT EXISTS import_rejected_rows_job ON import_rejected_rows (job_id, row_number);
