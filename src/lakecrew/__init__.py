"""lakecrew: a Databricks SOP turned into running software."""

from lakecrew.wiring.arrow_memory import configure as _configure_arrow_memory

_configure_arrow_memory()  # before anything loads pyarrow: see wiring/arrow_memory.py

__version__ = "0.1.0"
