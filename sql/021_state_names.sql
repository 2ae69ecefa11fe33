-- State names and codes (issue 14 item 4): which digital state set a state tag reports in, and what each
-- state of a set means. Written only by `oee_pipelines/services/plant/` (the plant model's `state_sets`);
-- read by the historian backfill (`oee_pipelines/domain/tag_mapping.py`). Idempotent.

-- A `machine_state` tag's state set; NULL keeps the old rule (exactly RUNNING is running).
ALTER TABLE historian_tag_mappings ADD COLUMN IF NOT EXISTS state_set text;

-- One row per state of a set: `state_key` is the state name lower-cased, or its numeric code as text.
CREATE TABLE IF NOT EXISTS state_name_mappings (
    org_id       text NOT NULL REFERENCES organizations (id),
    state_set    text NOT NULL,
    state_key    text NOT NULL CHECK (state_key = lower(state_key) AND state_key <> ''),
    running      boolean NOT NULL,
    reason_code  text,
    PRIMARY KEY (org_id, state_set, state_key)
);
