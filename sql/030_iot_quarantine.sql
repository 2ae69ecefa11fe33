-- IoT ingestion (issue 5): readings and messages the hourly landing could not turn into telemetry.
-- One row per refused reading (unknown sensor, missing/unparsable timestamp, unparsable value) or
-- refused message (malformed JSON, unrecognised payload), replaced per landed hour. Idempotent.

CREATE TABLE IF NOT EXISTS iot_quarantine (
    id              bigserial PRIMARY KEY,
    -- The sensor's organization; for an unknown sensor, the deployment's (OEE_ORG_ID). No foreign key:
    -- a quarantined row must land even when its organization is not (yet) in the warehouse.
    org_id          text NOT NULL,
    hour_start      timestamptz NOT NULL,
    reason          text NOT NULL,
    source_system   text NOT NULL,
    source_ref      text,
    sensor_id       text,
    measurement     text,
    raw_value       text,
    raw_ts          text,
    ts              timestamptz,
    receive_time    timestamptz,
    payload         text,
    dagster_run_id  text,
    quarantined_at  timestamptz NOT NULL DEFAULT now()
);

-- A landing replaces its hour's rows; the UI and data stewards read an organization's recent hours.
CREATE INDEX IF NOT EXISTS iot_quarantine_hour ON iot_quarantine (hour_start);
CREATE INDEX IF NOT EXISTS iot_quarantine_org_hour ON iot_quarantine (org_id, hour_start DESC);
