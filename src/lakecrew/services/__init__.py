"""Use cases: one package per area; import core, ports and services only."""
