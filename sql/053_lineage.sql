-- Lineage (issue 18, item 5): every snapshot, and so every mart row, names the source systems and the
-- ingest runs of the readings its figures were computed from. Idempotent.
--
-- `source_systems`: the distinct `source_system`s (pi, aveva, mqtt, http, import...) and `ingest_runs`
-- the distinct `ingest_run_id`s (a Dagster run id, or `import-<job_id>` for an import without a run)
-- of the enriched machine-state and counter readings time-stamped inside the window
-- [window_start, snapshot_time], both sorted. Written by the `oee_snapshots` asset with the rest of
-- the row. `GET /api/oee/lineage/snapshot` resolves the runs to import and historian backfill jobs and
-- returns the raw lake readings; docs/data-mart.md has the SQL.

ALTER TABLE oee_snapshots
    ADD COLUMN IF NOT EXISTS source_systems text[] NOT NULL DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS ingest_runs text[] NOT NULL DEFAULT '{}';

-- The mart view of sql/051 with the two lineage columns appended.
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
    wo_variance.yield_variance_pct AS wo_yield_variance_pct,
    s.source_systems,
    s.ingest_runs
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

-- The mart table: the lineage columns before `refreshed_at` (see sql/051 for why it moves).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = 'oee_data_mart_table'
          AND column_name = 'source_systems'
    ) THEN
        ALTER TABLE oee_data_mart_table
            DROP COLUMN IF EXISTS refreshed_at,
            ADD COLUMN source_systems text[] NOT NULL DEFAULT '{}',
            ADD COLUMN ingest_runs text[] NOT NULL DEFAULT '{}',
            ADD COLUMN refreshed_at timestamptz NOT NULL DEFAULT now();
    END IF;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        GRANT SELECT ON oee_data_mart, oee_data_mart_table TO authenticated;
    END IF;
END
$$;
