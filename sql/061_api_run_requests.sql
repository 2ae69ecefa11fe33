-- Runs requested through the API (issue 16): the API commits one row and answers 202; the
-- `api_run_requests_sensor` (defs/api_requests/sensors.py) turns each row into a Dagster run whose
-- run key and `oee/request_id` tag are the row's id, then records the run id here. The row is the
-- durable record: an API killed right after its 202 loses nothing. Written only by
-- services/api_run_requests.py. Idempotent.
CREATE TABLE IF NOT EXISTS api_run_requests (
    id UUID PRIMARY KEY,
    seq BIGSERIAL NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    job_name TEXT NOT NULL,
    run_config JSONB NOT NULL DEFAULT '{}'::jsonb,
    tags JSONB NOT NULL DEFAULT '{}'::jsonb,
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    run_id TEXT,
    submitted_at TIMESTAMPTZ
);

-- The sensor's tick reads the oldest requests that have no run yet.
CREATE INDEX IF NOT EXISTS api_run_requests_pending ON api_run_requests (seq) WHERE run_id IS NULL;
