-- The six big losses as a product (issue 18 item 4): the loss tree per machine, shift instance and UTC
-- day, reason codes beneath each loss. Written only by `oee_pipelines/services/oee/losses.py` (the
-- `oee_losses` asset replaces a day's rows). Idempotent: safe to re-run.
--
-- The rows of one machine and day add up to its planned production time (docs/oee-model.md):
--   fully_productive + breakdowns + setup_adjustments + small_stops + reduced_speed
--   + startup_rejects + production_rejects + unknown = planned production time.
CREATE TABLE IF NOT EXISTS oee_losses (
    id               bigserial PRIMARY KEY,
    org_id           text NOT NULL REFERENCES organizations (id),
    day              date NOT NULL,  -- the UTC day (the OEE partition) the minutes lie in
    machine_id       text NOT NULL REFERENCES machines (id),
    line_id          text NOT NULL REFERENCES production_lines (id),
    shift_id         text NOT NULL REFERENCES shifts (id),
    shift_date       date NOT NULL,  -- the shift instance's local start date
    loss_category    text NOT NULL CHECK (loss_category IN (
        'fully_productive', 'breakdowns', 'setup_adjustments', 'small_stops', 'reduced_speed',
        'startup_rejects', 'production_rejects', 'unknown')),
    oee_factor       text NOT NULL CHECK (oee_factor IN (
        'productive', 'availability', 'performance', 'quality', 'unknown')),
    reason_category  text,           -- reason_codes.category; NULL for speed, quality and unknown rows
    reason_code      text,
    reason_name      text,
    minutes          double precision NOT NULL,  -- reduced_speed is negative when faster than ideal
    occurrences      integer,        -- stops (or silences) of this reason in the shift; NULL for piece losses
    pieces           bigint,         -- rejects and fully productive rows: the pieces valued
    computed_at      timestamptz NOT NULL DEFAULT now(),
    dagster_run_id   text
);
CREATE INDEX IF NOT EXISTS oee_losses_org_day ON oee_losses (org_id, day);
CREATE INDEX IF NOT EXISTS oee_losses_line_day ON oee_losses (line_id, day);
CREATE INDEX IF NOT EXISTS oee_losses_machine_day ON oee_losses (machine_id, day);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        GRANT SELECT ON oee_losses TO authenticated;
    END IF;
END
$$;
