"""Kafka sources, sinks and the consumer-group worker."""
