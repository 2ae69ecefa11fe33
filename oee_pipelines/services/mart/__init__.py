"""The data mart's work outside Dagster: its lake copy, read by the API's exports."""
