"""Storage: the operational SQL store (alerts, incidents, runs) and the Parquet event lake."""

from mamori.store.lake import EventLake, QueryError
from mamori.store.sql import OperationalStore, conform_incidents

__all__ = ["EventLake", "OperationalStore", "QueryError", "conform_incidents"]
