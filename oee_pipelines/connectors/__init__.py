"""Protocol clients for the plant's source systems. No Dagster import here."""
