"""Files for BI tools that need more than the API: Tableau `.hyper` extracts."""
