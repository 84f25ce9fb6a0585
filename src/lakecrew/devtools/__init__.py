"""Developer tools run by `make lint` (layer rules)."""
