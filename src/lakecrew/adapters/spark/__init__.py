"""Spark engine adapter (pyspark, optional: install requirements/dev.in or the spark extra)."""
