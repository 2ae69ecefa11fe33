"""Typed configuration read once by `oee_pipelines.settings` and handed to resources, the API and the CLI."""
