"""oee_pipelines: an open data platform for OEE in manufacturing, built on Dagster."""
