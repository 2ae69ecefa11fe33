-- MES/ERP sync (issue 3): what was last pushed back to the MES, and indexes behind the audit trail.
-- Idempotent.

-- The status and quantity last sent to the MES per work order: a push-back sends only what differs,
-- so a second run sends nothing new.
CREATE TABLE IF NOT EXISTS mes_order_status_pushes (
    org_id            text NOT NULL REFERENCES organizations (id),
    work_order_id     text NOT NULL REFERENCES work_orders (id),
    mes_system        text NOT NULL,
    status            text NOT NULL,
    actual_quantity   integer CHECK (actual_quantity >= 0),
    pushed_at         timestamptz NOT NULL DEFAULT now(),
    dagster_run_id    text,
    PRIMARY KEY (org_id, work_order_id)
);

-- The audit trail is read newest first per organization and entity, and per Dagster run.
CREATE INDEX IF NOT EXISTS mes_schedule_sync_org_entity_time
    ON mes_schedule_sync (org_id, entity, sync_timestamp DESC);
CREATE INDEX IF NOT EXISTS mes_schedule_sync_run ON mes_schedule_sync (dagster_run_id);

-- Recipe download history per recipe, newest first.
CREATE INDEX IF NOT EXISTS recipe_downloads_recipe_time
    ON recipe_downloads (org_id, local_recipe_id, download_timestamp DESC);

-- GET /api/erp/labor/?line_id=&date= reads one line's day.
CREATE INDEX IF NOT EXISTS labor_costs_line_date ON labor_costs (line_id, work_date);
