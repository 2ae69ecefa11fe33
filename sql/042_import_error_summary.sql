-- Bounded import reports (issue 17 item 3): `import_jobs.errors` lists the first 1,000 problems of a
-- file; every problem is still counted, per kind, with the number of bad rows. Idempotent.

ALTER TABLE import_jobs ADD COLUMN IF NOT EXISTS error_counts jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE import_jobs ADD COLUMN IF NOT EXISTS total_errors integer NOT NULL DEFAULT 0;
ALTER TABLE import_jobs ADD COLUMN IF NOT EXISTS total_bad_rows integer NOT NULL DEFAULT 0;
