"""The event model: schemas per stream kind, readers, validation and quarantine."""

from mamori.events.schema import ALERT, ENVELOPE, KINDS, conform, empty, schema

__all__ = ["ALERT", "ENVELOPE", "KINDS", "conform", "empty", "schema"]
