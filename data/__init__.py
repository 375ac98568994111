"""Data layer: ingestion, storage and queries."""
