-- Indexes behind the export API (issue 8): ordered exports per organization, shift-report ranges,
-- and API-key administration. Idempotent.

-- Exports stream ORDER BY snapshot_time, machine_id within one organization: an index in that order
-- lets PostgreSQL stream rows without sorting the range first.
CREATE INDEX IF NOT EXISTS oee_snapshots_org_time_machine ON oee_snapshots (org_id, snapshot_time, machine_id);

-- Shift-report exports filter on the shift's start instant.
CREATE INDEX IF NOT EXISTS shift_reports_org_start ON shift_reports (org_id, shift_start);

-- `oee api-key list --org` and `oee api-key revoke <prefix>`.
CREATE INDEX IF NOT EXISTS api_keys_org ON api_keys (org_id);
CREATE INDEX IF NOT EXISTS api_keys_prefix ON api_keys (key_prefix);
