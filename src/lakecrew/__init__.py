"""lakecrew: a Databricks SOP turned into running software."""

__version__ = "0.1.0"
