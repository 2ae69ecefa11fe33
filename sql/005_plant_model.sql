-- The plant model (issue 14 item 1): columns and tables `oee plant apply` fills, plus API key scopes.
-- Written only by `oee_pipelines/services/plant/` (the plant model, reference templates, MES master
-- data). Idempotent: safe to re-run.

-- Shift calendars change from a date: a changed calendar is a new shift id with a later date.
ALTER TABLE shifts ADD COLUMN IF NOT EXISTS effective_from date;
ALTER TABLE shifts ADD COLUMN IF NOT EXISTS effective_to date;  -- exclusive
-- A shift removed from the plant model is deactivated (reports and snapshots keep referring to it).
ALTER TABLE shifts ADD COLUMN IF NOT EXISTS is_active boolean NOT NULL DEFAULT true;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'shifts_effective_period') THEN
        ALTER TABLE shifts ADD CONSTRAINT shifts_effective_period
            CHECK (effective_to IS NULL OR effective_from IS NULL OR effective_to > effective_from);
    END IF;
END $$;

-- The product's default ideal cycle time (every machine), and who defined the row.
ALTER TABLE products ADD COLUMN IF NOT EXISTS ideal_cycle_time_seconds double precision
    CHECK (ideal_cycle_time_seconds > 0);
-- 'plant_model' rows belong to the plant model file; 'mes' rows to the MES master data (the plant
-- model wins where both define a row).
ALTER TABLE products ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'plant_model';
ALTER TABLE machines ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'plant_model';

-- Ideal cycle time per machine and product: wins over the product default and the MES recipe.
CREATE TABLE IF NOT EXISTS machine_cycle_times (
    org_id                    text NOT NULL REFERENCES organizations (id),
    machine_id                text NOT NULL REFERENCES machines (id),
    product_id                text NOT NULL REFERENCES products (id),
    ideal_cycle_time_seconds  double precision NOT NULL CHECK (ideal_cycle_time_seconds > 0),
    source                    text NOT NULL DEFAULT 'plant_model' CHECK (source IN ('plant_model', 'mes')),
    PRIMARY KEY (machine_id, product_id)
);
CREATE INDEX IF NOT EXISTS machine_cycle_times_org ON machine_cycle_times (org_id);

-- API keys: 'read' keys read; 'admin' keys may also change the plant model. Existing keys stay admin.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS scope text NOT NULL DEFAULT 'admin';
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'api_keys_scope') THEN
        ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope CHECK (scope IN ('read', 'admin'));
    END IF;
END $$;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;
