"""CSV/Excel imports: the inbox sensor, the `imported_files` asset that lands each file, and the
per-day import assets the OEE stage depends on."""
