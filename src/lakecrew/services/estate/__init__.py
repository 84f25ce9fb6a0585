"""The estate: lakecrew.yaml (workspace inventory of SOP 1.1.3), its starter file and summary."""
