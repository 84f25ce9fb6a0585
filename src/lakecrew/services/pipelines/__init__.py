"""pipelines services."""
