"""Warehouse and lake plumbing with no Dagster import: embedded PostgreSQL, migrations, loaders, files."""
