"""Runs requested through the API: the sensor that starts a run for each `api_run_requests` row."""
