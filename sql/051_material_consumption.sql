-- Material consumption and production variance (issue 18, item 1; seed 002 Phase 1 ERP focus:
-- "inventory consumption tracking", "production variance reporting"). Idempotent.
--
-- `material_consumption`: what each work order consumed, per material, as the MES reports it.
-- `production_variance`: planned against actual per work order from the ERP: one `yield` row (pieces)
-- and one row per component (`item_type` 'material').
-- Both are written only by `services/mes_erp/consumption.py`, per UTC day of the work orders'
-- `planned_start` (the `material_consumption` / `production_variance` assets): a day's run replaces
-- the rows of that day's orders. One row per order and material (or item): an order whose planned
-- start moves to another day moves with it. docs/mes-erp.md describes both.

CREATE TABLE IF NOT EXISTS material_consumption (
    org_id             text NOT NULL REFERENCES organizations (id),
    work_order_id      text NOT NULL REFERENCES work_orders (id),
    wo_number          text NOT NULL,
    line_id            text,
    planned_start      timestamptz NOT NULL,
    material_number    text NOT NULL,
    planned_quantity   numeric(14, 3) NOT NULL CHECK (planned_quantity >= 0),
    consumed_quantity  numeric(14, 3) NOT NULL CHECK (consumed_quantity >= 0),
    base_unit          text NOT NULL,
    source_system      text NOT NULL,
    dagster_run_id     text,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, wo_number, material_number)
);
CREATE INDEX IF NOT EXISTS material_consumption_org_start ON material_consumption (org_id, planned_start);
CREATE INDEX IF NOT EXISTS material_consumption_work_order ON material_consumption (work_order_id);

CREATE TABLE IF NOT EXISTS production_variance (
    org_id             text NOT NULL REFERENCES organizations (id),
    work_order_id      text NOT NULL REFERENCES work_orders (id),
    wo_number          text NOT NULL,
    line_id            text,
    planned_start      timestamptz NOT NULL,
    item               text NOT NULL,
    item_type          text NOT NULL CHECK (item_type IN ('yield', 'material')),
    unit               text,
    planned_quantity   numeric(14, 3) NOT NULL,
    -- NULL until the ERP holds a confirmed quantity (yield) or an issue (component).
    actual_quantity    numeric(14, 3),
    variance_quantity  numeric(14, 3),
    -- NULL where nothing was planned.
    variance_pct       numeric(12, 3),
    source_system      text NOT NULL,
    dagster_run_id     text,
    synced_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, wo_number, item)
);
CREATE INDEX IF NOT EXISTS production_variance_org_start ON production_variance (org_id, planned_start);
CREATE INDEX IF NOT EXISTS production_variance_work_order ON production_variance (work_order_id);

-- The mart view of sql/050 with the work order's material figures appended (CREATE OR REPLACE VIEW
-- may only add columns at the end). They are per work order: the same on every snapshot of the
-- order, so take them once per `wo_number`, never sum them over snapshots.
CREATE OR REPLACE VIEW oee_data_mart AS
SELECT
    s.id AS snapshot_id,
    s.snapshot_time,
    s.org_id,
    m.id AS machine_id,
    m.name AS machine_name,
    m.code AS machine_code,
    l.id AS line_id,
    l.name AS line_name,
    sh.id AS shift_id,
    sh.name AS shift_name,
    wo.id AS work_order_id,
    wo.wo_number,
    p.name AS product_name,
    s.oee_pct,
    s.availability_pct,
    s.performance_pct,
    s.quality_pct,
    s.total_pieces,
    s.good_pieces,
    s.rejected_pieces,
    s.planned_production_time,
    s.actual_production_time,
    COALESCE(dt.total_downtime, 0) AS downtime_minutes,
    COALESCE(dt.planned_downtime, 0) AS planned_downtime_minutes,
    COALESCE(dt.unplanned_downtime, 0) AS unplanned_downtime_minutes,
    s.window_start,
    s.shift_date,
    s.scheduled_time,
    s.unknown_time,
    s.ideal_production_time,
    s.performance_raw_pct,
    s.breakdowns_minutes,
    s.setup_adjustments_minutes,
    s.small_stops_minutes,
    s.reduced_speed_minutes,
    s.startup_rejects_minutes,
    s.production_rejects_minutes,
    wo_material.planned_cost AS wo_material_planned_cost,
    wo_material.consumed_cost AS wo_material_consumed_cost,
    wo_variance.material_variance_cost AS wo_material_variance_cost,
    wo_variance.yield_variance_quantity AS wo_yield_variance_quantity,
    wo_variance.yield_variance_pct AS wo_yield_variance_pct
FROM oee_snapshots s
LEFT JOIN machines m ON s.machine_id = m.id
LEFT JOIN production_lines l ON s.line_id = l.id
LEFT JOIN shifts sh ON s.shift_id = sh.id
LEFT JOIN work_orders wo ON s.work_order_id = wo.id
LEFT JOIN products p ON wo.product_id = p.id
LEFT JOIN LATERAL (
    SELECT
        SUM(overlap.minutes) AS total_downtime,
        SUM(CASE WHEN overlap.is_planned THEN overlap.minutes ELSE 0 END) AS planned_downtime,
        SUM(CASE WHEN NOT overlap.is_planned THEN overlap.minutes ELSE 0 END) AS unplanned_downtime
    FROM (
        SELECT
            de.is_planned,
            EXTRACT(EPOCH FROM LEAST(COALESCE(de.end_time, s.snapshot_time), s.snapshot_time)
                               - GREATEST(de.start_time, s.window_start)) / 60 AS minutes
        FROM oee_downtime_events de
        WHERE de.machine_id = s.machine_id
          AND de.source_system = 'derived'
          AND de.start_time < s.snapshot_time
          AND de.start_time >= s.window_start - INTERVAL '1 day'
          AND (de.end_time IS NULL OR de.end_time > s.window_start)
    ) overlap
) dt ON true
-- Per work order, aggregated once per query and hash-joined (a per-snapshot LATERAL would run once
-- per row). Quantities are valued at the material master's unit cost; a material without one adds
-- nothing to the sums.
LEFT JOIN (
    SELECT
        mc.work_order_id,
        SUM(mc.planned_quantity * mt.unit_cost) AS planned_cost,
        SUM(mc.consumed_quantity * mt.unit_cost) AS consumed_cost
    FROM material_consumption mc
    LEFT JOIN materials mt ON mt.org_id = mc.org_id AND mt.material_number = mc.material_number
    GROUP BY mc.work_order_id
) wo_material ON wo_material.work_order_id = s.work_order_id
LEFT JOIN (
    SELECT
        pv.work_order_id,
        SUM(pv.variance_quantity * mt.unit_cost) FILTER (WHERE pv.item_type = 'material')
            AS material_variance_cost,
        MAX(pv.variance_quantity) FILTER (WHERE pv.item_type = 'yield') AS yield_variance_quantity,
        MAX(pv.variance_pct) FILTER (WHERE pv.item_type = 'yield') AS yield_variance_pct
    FROM production_variance pv
    LEFT JOIN materials mt ON mt.org_id = pv.org_id AND mt.material_number = pv.item
    GROUP BY pv.work_order_id
) wo_variance ON wo_variance.work_order_id = s.work_order_id;

-- The mart table keeps the view's columns in the view's order with `refreshed_at` last, so that
-- `INSERT INTO oee_data_mart_table SELECT * FROM oee_data_mart` style loads keep lining up: the new
-- columns go before `refreshed_at` (dropped and added again once; its times restart at now()).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'oee_data_mart_table'
          AND column_name = 'wo_material_planned_cost'
    ) THEN
        ALTER TABLE oee_data_mart_table
            DROP COLUMN IF EXISTS refreshed_at,
            ADD COLUMN wo_material_planned_cost double precision,
            ADD COLUMN wo_material_consumed_cost double precision,
            ADD COLUMN wo_material_variance_cost double precision,
            ADD COLUMN wo_yield_variance_quantity double precision,
            ADD COLUMN wo_yield_variance_pct double precision,
            ADD COLUMN refreshed_at timestamptz NOT NULL DEFAULT now();
    END IF;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        GRANT SELECT ON material_consumption, production_variance, oee_data_mart, oee_data_mart_table
            TO authenticated;
    END IF;
END
$$;
