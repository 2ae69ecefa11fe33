-- The BI data mart view of seed 000 (one row per OEE snapshot, denormalized).
-- Downtime is aggregated as the seed wrote it; migration 05x corrects the window to the
-- snapshot's own 15 minutes (see docs/data-mart.md).
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
    COALESCE(dt.unplanned_downtime, 0) AS unplanned_downtime_minutes
FROM oee_snapshots s
LEFT JOIN machines m ON s.machine_id = m.id
LEFT JOIN production_lines l ON s.line_id = l.id
LEFT JOIN shifts sh ON s.shift_id = sh.id
LEFT JOIN work_orders wo ON s.work_order_id = wo.id
LEFT JOIN products p ON wo.product_id = p.id
LEFT JOIN LATERAL (
    SELECT
        SUM(duration_minutes) AS total_downtime,
        SUM(CASE WHEN is_planned THEN duration_minutes ELSE 0 END) AS planned_downtime,
        SUM(CASE WHEN NOT is_planned THEN duration_minutes ELSE 0 END) AS unplanned_downtime
    FROM oee_downtime_events de
    WHERE de.machine_id = s.machine_id
      AND de.start_time >= s.snapshot_time - INTERVAL '5 minutes'
      AND de.start_time < s.snapshot_time
) dt ON true;

-- BI tools connect as a read-only role where the deployment has one.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        GRANT SELECT ON oee_data_mart TO authenticated;
    END IF;
END
$$;
