"""Historian connectors (PI Web API, AVEVA Historian REST) yielding raw point tables page by page."""
