"""Dagster-free work of the OEE stages: what telemetry, OEE and mart read and write (`inputs.py`)."""
