"""IoT stage: hourly landing of the MQTT/HTTP sensor buffer into the lake, and the sensor that drives it."""
