-- OEE core (issue 7): the snapshot and shift-report columns the OEE domain produces, the corrected
-- `oee_data_mart` view, and the materialized mart table BI tools and exports query. Idempotent.
-- docs/data-mart.md describes the view's deviation from the seed and the table's refresh.

-- Snapshots: the local shift date, pieces the OEE could not value or place, the alert flag, and the
-- minutes of each of the six big losses (a loss waterfall can be drawn from them).
ALTER TABLE oee_snapshots
    ADD COLUMN IF NOT EXISTS shift_date date,
    ADD COLUMN IF NOT EXISTS pieces_without_ideal_cycle_time integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS pieces_outside_schedule integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS performance_above_limit boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS breakdowns_minutes numeric(10, 4) NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS setup_adjustments_minutes numeric(10, 4) NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS small_stops_minutes numeric(10, 4) NOT NULL DEFAULT 0,
    -- NULL when the ideal cycle time is unknown; negative when faster than ideal.
    ADD COLUMN IF NOT EXISTS reduced_speed_minutes numeric(10, 4),
    ADD COLUMN IF NOT EXISTS startup_rejects_minutes numeric(10, 4) NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS production_rejects_minutes numeric(10, 4) NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS oee_snapshots_machine_time ON oee_snapshots (machine_id, snapshot_time);

ALTER TABLE shift_reports
    ADD COLUMN IF NOT EXISTS performance_raw_pct numeric(9, 3) CHECK (performance_raw_pct >= 0);

-- Downtime the pipeline derived (machine state, merged with reported downtime where the state is
-- unknown) carries source_system 'derived'; the OEE stage replaces these rows per day. Rows of other
-- source systems are reports owned by the stage that imported them.
CREATE INDEX IF NOT EXISTS oee_downtime_events_derived_machine_time
    ON oee_downtime_events (machine_id, start_time) WHERE source_system = 'derived';
CREATE INDEX IF NOT EXISTS oee_downtime_events_source_time ON oee_downtime_events (source_system, start_time);

-- The seed's view, corrected: downtime is the minutes of derived downtime overlapping the snapshot's
-- own window [window_start, snapshot_time), split planned/unplanned (the seed summed whole events
-- starting in the 5 minutes before snapshot_time). Derived events are cut at UTC midnight, so none
-- starts more than a day before its window. Columns after the seed's are appended (waterfall, flags).
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
    s.production_rejects_minutes
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
) dt ON true;

-- The view materialized for BI speed, refreshed per day by the `oee_data_mart` asset. Measures are
-- double precision (fast to scan and to bulk-load); the view keeps the warehouse's exact numerics.
CREATE TABLE IF NOT EXISTS oee_data_mart_table (
    snapshot_id                  bigint NOT NULL,
    snapshot_time                timestamptz NOT NULL,
    org_id                       text NOT NULL,
    machine_id                   text NOT NULL,
    machine_name                 text,
    machine_code                 text,
    line_id                      text NOT NULL,
    line_name                    text,
    shift_id                     text,
    shift_name                   text,
    work_order_id                text,
    wo_number                    text,
    product_name                 text,
    oee_pct                      double precision,
    availability_pct             double precision,
    performance_pct              double precision,
    quality_pct                  double precision,
    total_pieces                 integer NOT NULL,
    good_pieces                  integer NOT NULL,
    rejected_pieces              integer NOT NULL,
    planned_production_time      double precision NOT NULL,
    actual_production_time       double precision NOT NULL,
    downtime_minutes             double precision NOT NULL,
    planned_downtime_minutes     double precision NOT NULL,
    unplanned_downtime_minutes   double precision NOT NULL,
    window_start                 timestamptz NOT NULL,
    shift_date                   date,
    scheduled_time               double precision NOT NULL,
    unknown_time                 double precision NOT NULL,
    ideal_production_time        double precision NOT NULL,
    performance_raw_pct          double precision,
    breakdowns_minutes           double precision NOT NULL,
    setup_adjustments_minutes    double precision NOT NULL,
    small_stops_minutes          double precision NOT NULL,
    reduced_speed_minutes        double precision,
    startup_rejects_minutes      double precision NOT NULL,
    production_rejects_minutes   double precision NOT NULL,
    refreshed_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (machine_id, snapshot_time)
);
-- The filters exports and BI use: an organization's, a line's or a machine's time range (the primary
-- key serves the machine filter).
CREATE INDEX IF NOT EXISTS oee_data_mart_table_org_time ON oee_data_mart_table (org_id, snapshot_time);
CREATE INDEX IF NOT EXISTS oee_data_mart_table_line_time ON oee_data_mart_table (line_id, snapshot_time);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        GRANT SELECT ON oee_data_mart, oee_data_mart_table TO authenticated;
    END IF;
END
$$;
