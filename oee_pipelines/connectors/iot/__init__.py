"""IoT ingestion: the durable local buffer, the MQTT ingester, the HTTP poller and hourly landing."""
