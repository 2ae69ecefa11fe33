"""Historian backfills: `historian_points`, daily partitions of PI / AVEVA points in the lake."""
