"""Tests of the historian backfill assets."""
