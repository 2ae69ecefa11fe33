"""Monitoring: a run-failure alert sensor and the daily publish deadline (freshness) of published assets."""
