"""Dagster ConfigurableResources: the warehouse, the lake, and one per source system."""
