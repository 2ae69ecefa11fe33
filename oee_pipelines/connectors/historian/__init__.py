"""Historian connectors (PI Web API, AVEVA Historian REST) yielding raw point tables page by page.

Both clients implement `base.HistorianClient` (`read_points(tags, start, end)`).
"""
