"""The embedded local backend: Delta Lake (delta-rs) + DuckDB + SQLite metastore on one machine."""
