"""Dagster-free work of each stage, called by assets, the API and the CLI alike.

Each service owns its tables: it is the only writer of them. Services import `connectors/`,
`storage/` and `domain/`, never `defs/`, `resources/`, `api/` or `cli/`.
"""
