"""Prometheus metrics of the long-running processes (API sidecar, IoT ingester, connectors).

No Dagster import here: connectors and the API use it, and Dagster runs are watched by their own
sensors (`oee_pipelines/defs/monitoring/`).
"""
