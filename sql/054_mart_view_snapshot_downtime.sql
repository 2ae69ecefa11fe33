-- The data mart view reads each snapshot's own downtime (issue 18, item 8). Idempotent.
--
-- Up to sql/053 the view summed, per snapshot, the minutes of derived downtime events overlapping the
-- window, in a per-row subquery: 40 s for 90 days x 500 machines, against the seed's 5 s. The OEE stage
-- already stores those minutes with each snapshot (`planned_downtime`, `unplanned_downtime`, computed
-- from the same timeline as the events, and both checked against the simulator's ground truth), so
-- the view now reads them and is a plain join of the snapshot with its dimensions. The columns keep
-- their names, order and type (numeric); the values are the snapshot's, kept to 4 decimals (within
-- 0.00005 minutes of the events' overlap). The asset check `snapshot_downtime_matches_events`
-- recomputes the overlap from the events for each day the chain builds and flags any window where
-- the two disagree (`services/oee/window_downtime.py`).

-- The windows of a day across every organization: what the mart refresh reads from the view and the
-- check reads from the snapshots, once per chain run (the other indexes lead with org, line or machine).
CREATE INDEX IF NOT EXISTS oee_snapshots_time ON oee_snapshots (snapshot_time);

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
    (s.planned_downtime + s.unplanned_downtime)::numeric AS downtime_minutes,
    s.planned_downtime::numeric AS planned_downtime_minutes,
    s.unplanned_downtime::numeric AS unplanned_downtime_minutes,
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

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        GRANT SELECT ON oee_data_mart, oee_data_mart_table TO authenticated;
    END IF;
END
$$;
