"""Tests of the historian service."""
