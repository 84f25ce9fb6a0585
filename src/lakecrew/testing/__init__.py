"""Shared test helpers and fakes (importable by tests; never by product code)."""
