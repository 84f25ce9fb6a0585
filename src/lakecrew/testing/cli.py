"""The command tree of the `lakecrew` app, for tests that must cover every command."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def command_paths(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path of a click/typer group (typer vendors click: groups are duck-typed);
    a group that is also a command (`outbox`) is listed as well as its subcommands."""
    for name in group.list_commands(None):
        cmd = group.get_command(None, name)
        if cmd is None or cmd.hidden:
            continue
        if hasattr(cmd, "list_commands"):
            if cmd.invoke_without_command:
                yield (*path, name)
            yield from command_paths(cmd, (*path, name))
        else:
            yield (*path, name)


def all_commands() -> list[tuple[str, ...]]:
    import typer

    from lakecrew.faces.cli.main import app

    return sorted(command_paths(typer.main.get_command(app)))
