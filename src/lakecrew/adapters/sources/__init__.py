"""Ingestion sources (files, HTTP/DHIS2, PostgreSQL, webhook spool) behind ports/source.py."""
