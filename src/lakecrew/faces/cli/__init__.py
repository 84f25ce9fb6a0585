"""The lakecrew command line (typer): `lakecrew = lakecrew.faces.cli.main:run`."""
