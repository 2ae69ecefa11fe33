-- Foundation schema: plant reference data, production context, audit trails, OEE results.
-- Every tenant row carries org_id. Idempotent: safe to re-run.

CREATE TABLE IF NOT EXISTS organizations (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS sites (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id),
    name        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'UTC'
);

CREATE TABLE IF NOT EXISTS production_lines (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id),
    site_id     text NOT NULL REFERENCES sites (id),
    name        text NOT NULL,
    code        text NOT NULL,
    is_active   boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS machines (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id),
    line_id     text NOT NULL REFERENCES production_lines (id),
    name        text NOT NULL,
    code        text NOT NULL,
    machine_type text,
    is_active   boolean NOT NULL DEFAULT true
);

-- The shift pattern of a site: local start/end times and the weekdays it runs (ISO 1=Mon..7=Sun).
CREATE TABLE IF NOT EXISTS shifts (
    id            text PRIMARY KEY,
    org_id        text NOT NULL REFERENCES organizations (id),
    site_id       text NOT NULL REFERENCES sites (id),
    name          text NOT NULL,
    shift_number  smallint NOT NULL CHECK (shift_number > 0),
    start_time    time NOT NULL,
    end_time      time NOT NULL,
    weekdays      smallint[] NOT NULL DEFAULT '{1,2,3,4,5}'
);

CREATE TABLE IF NOT EXISTS shift_breaks (
    id                   bigserial PRIMARY KEY,
    org_id               text NOT NULL REFERENCES organizations (id),
    shift_id             text NOT NULL REFERENCES shifts (id),
    name                 text NOT NULL,
    start_offset_minutes integer NOT NULL CHECK (start_offset_minutes >= 0),
    duration_minutes     integer NOT NULL CHECK (duration_minutes > 0),
    UNIQUE (shift_id, start_offset_minutes)
);

CREATE TABLE IF NOT EXISTS operators (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id),
    name        text NOT NULL,
    role        text NOT NULL
);

-- Who ran a line on one shift of one day.
CREATE TABLE IF NOT EXISTS operator_shifts (
    id           bigserial PRIMARY KEY,
    org_id       text NOT NULL REFERENCES organizations (id),
    line_id      text NOT NULL REFERENCES production_lines (id),
    shift_id     text NOT NULL REFERENCES shifts (id),
    shift_date   date NOT NULL,
    operator_id  text NOT NULL REFERENCES operators (id),
    role         text NOT NULL,
    start_time   timestamptz NOT NULL,
    end_time     timestamptz NOT NULL CHECK (end_time > start_time),
    UNIQUE (line_id, shift_id, shift_date, operator_id)
);

CREATE TABLE IF NOT EXISTS products (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id),
    code        text NOT NULL,
    name        text NOT NULL,
    unit        text NOT NULL DEFAULT 'pcs',
    UNIQUE (org_id, code)
);

CREATE TABLE IF NOT EXISTS recipes (
    id                     text PRIMARY KEY,
    org_id                 text NOT NULL REFERENCES organizations (id),
    product_id             text NOT NULL REFERENCES products (id),
    line_id                text REFERENCES production_lines (id),
    name                   text NOT NULL,
    version                text NOT NULL,
    ideal_cycle_time_s     numeric(12, 4) NOT NULL CHECK (ideal_cycle_time_s > 0),
    target_cycle_time_s    numeric(12, 4) NOT NULL CHECK (target_cycle_time_s > 0),
    parameters             jsonb NOT NULL DEFAULT '{}'::jsonb,
    source_system          text NOT NULL DEFAULT 'simulator',
    updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS work_orders (
    id                text PRIMARY KEY,
    org_id            text NOT NULL REFERENCES organizations (id),
    wo_number         text NOT NULL,
    product_id        text NOT NULL REFERENCES products (id),
    recipe_id         text REFERENCES recipes (id),
    line_id           text NOT NULL REFERENCES production_lines (id),
    planned_quantity  integer NOT NULL CHECK (planned_quantity >= 0),
    actual_quantity   integer CHECK (actual_quantity >= 0),
    status            text NOT NULL CHECK (status IN ('planned', 'released', 'in_progress', 'completed', 'cancelled')),
    planned_start     timestamptz NOT NULL,
    planned_end       timestamptz NOT NULL CHECK (planned_end > planned_start),
    actual_start      timestamptz,
    actual_end        timestamptz,
    source_system     text NOT NULL DEFAULT 'simulator',
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, wo_number)
);
CREATE INDEX IF NOT EXISTS work_orders_line_time ON work_orders (line_id, planned_start);

CREATE TABLE IF NOT EXISTS production_schedules (
    id                bigserial PRIMARY KEY,
    org_id            text NOT NULL REFERENCES organizations (id),
    external_id       text NOT NULL,
    line_id           text NOT NULL REFERENCES production_lines (id),
    work_order_id     text REFERENCES work_orders (id),
    product_id        text REFERENCES products (id),
    recipe_id         text REFERENCES recipes (id),
    planned_start     timestamptz NOT NULL,
    planned_end       timestamptz NOT NULL CHECK (planned_end > planned_start),
    planned_quantity  integer NOT NULL CHECK (planned_quantity >= 0),
    status            text NOT NULL DEFAULT 'scheduled',
    source_system     text NOT NULL DEFAULT 'simulator',
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, external_id)
);
CREATE INDEX IF NOT EXISTS production_schedules_line_time ON production_schedules (line_id, planned_start);

CREATE TABLE IF NOT EXISTS materials (
    id               text PRIMARY KEY,
    org_id           text NOT NULL REFERENCES organizations (id),
    material_number  text NOT NULL,
    description      text NOT NULL,
    material_type    text,
    base_unit        text NOT NULL,
    unit_cost        numeric(14, 4),
    currency         text,
    source_system    text NOT NULL DEFAULT 'simulator',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, material_number)
);

CREATE TABLE IF NOT EXISTS labor_costs (
    id              bigserial PRIMARY KEY,
    org_id          text NOT NULL REFERENCES organizations (id),
    line_id         text NOT NULL REFERENCES production_lines (id),
    cost_center     text NOT NULL,
    work_date       date NOT NULL,
    labor_hours     numeric(10, 2) NOT NULL CHECK (labor_hours >= 0),
    hourly_rate     numeric(10, 2) NOT NULL CHECK (hourly_rate >= 0),
    labor_cost      numeric(14, 2) NOT NULL CHECK (labor_cost >= 0),
    currency        text NOT NULL DEFAULT 'EUR',
    source_system   text NOT NULL DEFAULT 'simulator',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, line_id, cost_center, work_date)
);

-- Reason codes: category -> reason; planned or not, and which of the six big losses.
CREATE TABLE IF NOT EXISTS reason_codes (
    org_id         text NOT NULL REFERENCES organizations (id),
    code           text NOT NULL,
    category       text NOT NULL,
    name           text NOT NULL,
    is_planned     boolean NOT NULL,
    loss_category  text CHECK (loss_category IN (
        'breakdowns', 'setup_adjustments', 'small_stops', 'reduced_speed',
        'startup_rejects', 'production_rejects', 'planned_stop')),
    PRIMARY KEY (org_id, code)
);

CREATE TABLE IF NOT EXISTS oee_downtime_events (
    id                bigserial PRIMARY KEY,
    org_id            text NOT NULL REFERENCES organizations (id),
    machine_id        text NOT NULL REFERENCES machines (id),
    line_id           text REFERENCES production_lines (id),
    start_time        timestamptz NOT NULL,
    end_time          timestamptz,
    duration_minutes  numeric(12, 4) CHECK (duration_minutes >= 0),
    is_planned        boolean NOT NULL DEFAULT false,
    reason_code       text,
    loss_category     text,
    description       text,
    operator_id       text,
    is_resolved       boolean NOT NULL DEFAULT true,
    source_system     text NOT NULL,
    source_ref        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (end_time IS NULL OR end_time >= start_time)
);
CREATE INDEX IF NOT EXISTS oee_downtime_events_machine_time ON oee_downtime_events (machine_id, start_time);
CREATE INDEX IF NOT EXISTS oee_downtime_events_org_time ON oee_downtime_events (org_id, start_time);

CREATE TABLE IF NOT EXISTS sensor_range_config (
    id                bigserial PRIMARY KEY,
    org_id            text NOT NULL REFERENCES organizations (id),
    machine_id        text NOT NULL REFERENCES machines (id),
    signal_type       text NOT NULL,
    min_value         double precision NOT NULL,
    max_value         double precision NOT NULL CHECK (max_value >= min_value),
    unit              text,
    violation_action  text NOT NULL DEFAULT 'ALERT' CHECK (violation_action IN ('ALERT', 'REJECT', 'DEGRADE')),
    is_active         boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (machine_id, signal_type)
);

CREATE TABLE IF NOT EXISTS data_quality_alerts (
    id              bigserial PRIMARY KEY,
    org_id          text NOT NULL REFERENCES organizations (id),
    machine_id      text REFERENCES machines (id),
    alert_type      text NOT NULL,
    timestamp_utc   timestamptz NOT NULL,
    metric_name     text NOT NULL,
    metric_value    double precision,
    expected_min    double precision,
    expected_max    double precision,
    severity        text NOT NULL DEFAULT 'WARNING',
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    partition_date  date,
    acknowledged    boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS data_quality_alerts_org_time ON data_quality_alerts (org_id, timestamp_utc);
CREATE INDEX IF NOT EXISTS data_quality_alerts_partition ON data_quality_alerts (partition_date, alert_type);

CREATE TABLE IF NOT EXISTS iot_sensors (
    sensor_id                 text PRIMARY KEY,
    org_id                    text NOT NULL REFERENCES organizations (id),
    sensor_type               text NOT NULL,
    machine_id                text NOT NULL REFERENCES machines (id),
    protocol                  text NOT NULL CHECK (protocol IN ('MQTT', 'HTTP')),
    mqtt_topic                text,
    http_endpoint             text,
    polling_interval_seconds  integer CHECK (polling_interval_seconds > 0),
    unit                      text NOT NULL,
    min_expected_value        double precision,
    max_expected_value        double precision,
    is_active                 boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS historian_tag_mappings (
    id                bigserial PRIMARY KEY,
    org_id            text NOT NULL REFERENCES organizations (id),
    historian_system  text NOT NULL CHECK (historian_system IN ('pi', 'aveva')),
    historian_tag     text NOT NULL,
    machine_id        text NOT NULL REFERENCES machines (id),
    signal_type       text NOT NULL,
    unit              text,
    scale_factor      double precision NOT NULL DEFAULT 1.0,
    offset_value      double precision NOT NULL DEFAULT 0.0,
    counter_mode      text NOT NULL DEFAULT 'none' CHECK (counter_mode IN ('none', 'increment', 'cumulative')),
    counter_rollover  double precision,
    is_active         boolean NOT NULL DEFAULT true,
    UNIQUE (org_id, historian_system, historian_tag)
);

CREATE TABLE IF NOT EXISTS mes_schedule_sync (
    sync_id            bigserial PRIMARY KEY,
    org_id             text NOT NULL REFERENCES organizations (id),
    mes_system         text NOT NULL,
    entity             text NOT NULL,
    line_id            text REFERENCES production_lines (id),
    sync_timestamp     timestamptz NOT NULL DEFAULT now(),
    range_start        timestamptz,
    range_end          timestamptz,
    records_fetched    integer NOT NULL DEFAULT 0,
    records_created    integer NOT NULL DEFAULT 0,
    records_updated    integer NOT NULL DEFAULT 0,
    records_rejected   integer NOT NULL DEFAULT 0,
    sync_status        text NOT NULL CHECK (sync_status IN ('RUNNING', 'SUCCESS', 'PARTIAL', 'FAILED')),
    error_message      text,
    errors             jsonb NOT NULL DEFAULT '[]'::jsonb,
    dagster_run_id     text
);

CREATE TABLE IF NOT EXISTS recipe_downloads (
    download_id          bigserial PRIMARY KEY,
    org_id               text NOT NULL REFERENCES organizations (id),
    mes_recipe_id        text NOT NULL,
    local_recipe_id      text NOT NULL REFERENCES recipes (id),
    recipe_version       text NOT NULL,
    download_timestamp   timestamptz NOT NULL DEFAULT now(),
    downloaded_by        text NOT NULL,
    dagster_run_id       text
);

CREATE TABLE IF NOT EXISTS historian_backfill_jobs (
    job_id             bigserial PRIMARY KEY,
    org_id             text NOT NULL REFERENCES organizations (id),
    historian_system   text NOT NULL,
    tags               text[] NOT NULL DEFAULT '{}',
    start_time         timestamptz NOT NULL,
    end_time           timestamptz NOT NULL CHECK (end_time > start_time),
    job_status         text NOT NULL CHECK (job_status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED')),
    points_fetched     bigint NOT NULL DEFAULT 0,
    points_imported    bigint NOT NULL DEFAULT 0,
    unmapped_tags      text[] NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL DEFAULT now(),
    completed_at       timestamptz,
    error_message      text,
    dagster_run_id     text,
    dagster_backfill_id text
);

CREATE TABLE IF NOT EXISTS import_jobs (
    job_id          bigserial PRIMARY KEY,
    org_id          text NOT NULL REFERENCES organizations (id),
    import_type     text NOT NULL CHECK (import_type IN ('sensor_log', 'downtime', 'schedule')),
    file_name       text NOT NULL,
    checksum        text NOT NULL,
    submitted_by    text NOT NULL,
    rows_read       integer NOT NULL DEFAULT 0,
    rows_imported   integer NOT NULL DEFAULT 0,
    rows_rejected   integer NOT NULL DEFAULT 0,
    status          text NOT NULL CHECK (status IN ('RUNNING', 'SUCCESS', 'PARTIAL', 'REJECTED', 'FAILED')),
    errors          jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz,
    dagster_run_id  text
);
CREATE INDEX IF NOT EXISTS import_jobs_checksum ON import_jobs (org_id, checksum);

-- One row per machine per 15-minute window; snapshot_time is the window's end (UTC).
CREATE TABLE IF NOT EXISTS oee_snapshots (
    id                        bigserial PRIMARY KEY,
    org_id                    text NOT NULL REFERENCES organizations (id),
    machine_id                text NOT NULL REFERENCES machines (id),
    line_id                   text NOT NULL REFERENCES production_lines (id),
    shift_id                  text REFERENCES shifts (id),
    work_order_id             text REFERENCES work_orders (id),
    snapshot_time             timestamptz NOT NULL,
    window_start              timestamptz NOT NULL,
    scheduled_time            numeric(10, 4) NOT NULL DEFAULT 0,
    planned_downtime          numeric(10, 4) NOT NULL DEFAULT 0,
    planned_production_time   numeric(10, 4) NOT NULL DEFAULT 0,
    unplanned_downtime        numeric(10, 4) NOT NULL DEFAULT 0,
    actual_production_time    numeric(10, 4) NOT NULL DEFAULT 0,
    unknown_time              numeric(10, 4) NOT NULL DEFAULT 0,
    ideal_production_time     numeric(12, 4) NOT NULL DEFAULT 0,
    total_pieces              integer NOT NULL DEFAULT 0 CHECK (total_pieces >= 0),
    good_pieces               integer NOT NULL DEFAULT 0 CHECK (good_pieces >= 0),
    rejected_pieces           integer NOT NULL DEFAULT 0 CHECK (rejected_pieces >= 0),
    availability_pct          numeric(7, 3) CHECK (availability_pct BETWEEN 0 AND 100),
    performance_pct           numeric(7, 3) CHECK (performance_pct BETWEEN 0 AND 100),
    performance_raw_pct       numeric(9, 3) CHECK (performance_raw_pct >= 0),
    quality_pct               numeric(7, 3) CHECK (quality_pct BETWEEN 0 AND 100),
    oee_pct                   numeric(9, 3) CHECK (oee_pct >= 0),
    computed_at               timestamptz NOT NULL DEFAULT now(),
    dagster_run_id            text,
    UNIQUE (machine_id, snapshot_time)
);
CREATE INDEX IF NOT EXISTS oee_snapshots_org_time ON oee_snapshots (org_id, snapshot_time);
CREATE INDEX IF NOT EXISTS oee_snapshots_line_time ON oee_snapshots (line_id, snapshot_time);

CREATE TABLE IF NOT EXISTS shift_reports (
    id                        bigserial PRIMARY KEY,
    org_id                    text NOT NULL REFERENCES organizations (id),
    line_id                   text NOT NULL REFERENCES production_lines (id),
    shift_id                  text NOT NULL REFERENCES shifts (id),
    shift_date                date NOT NULL,
    shift_start               timestamptz NOT NULL,
    shift_end                 timestamptz NOT NULL CHECK (shift_end > shift_start),
    planned_production_time   numeric(10, 4) NOT NULL DEFAULT 0,
    actual_production_time    numeric(10, 4) NOT NULL DEFAULT 0,
    total_pieces              integer NOT NULL DEFAULT 0,
    good_pieces               integer NOT NULL DEFAULT 0,
    rejected_pieces           integer NOT NULL DEFAULT 0,
    availability_pct          numeric(7, 3),
    performance_pct           numeric(7, 3),
    quality_pct               numeric(7, 3),
    oee_pct                   numeric(9, 3),
    downtime_minutes          numeric(10, 4) NOT NULL DEFAULT 0,
    top_downtime_reasons      jsonb NOT NULL DEFAULT '[]'::jsonb,
    operator_ids              text[] NOT NULL DEFAULT '{}',
    status                    text NOT NULL CHECK (status IN ('draft', 'final')),
    computed_at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (line_id, shift_id, shift_date)
);
CREATE INDEX IF NOT EXISTS shift_reports_org_date ON shift_reports (org_id, shift_date);

CREATE TABLE IF NOT EXISTS api_keys (
    id           bigserial PRIMARY KEY,
    org_id       text NOT NULL REFERENCES organizations (id),
    name         text NOT NULL,
    key_prefix   text NOT NULL,
    key_hash     text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);
