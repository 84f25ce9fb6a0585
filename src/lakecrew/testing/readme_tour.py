"""The README's tour as (command, expected exit code) pairs, read from the README itself."""

from __future__ import annotations

import re
import shlex
from pathlib import Path


def tour_commands(readme: Path) -> list[tuple[str, int]]:
    """The ```bash block of the README's tour, one (command, expected exit code) per `$L` line;
    a command continues while a quote is open; `# exits N` in its comment sets the code."""
    text = readme.read_text(encoding="utf-8")
    block = text.split("## A five-minute tour", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands: list[tuple[str, int]] = []
    pending = ""
    for line in block.splitlines():
        if not pending and not line.startswith("$L "):
            continue
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        code = re.search(r"#.*\bexits (\d)", pending)
        commands.append((pending, int(code.group(1)) if code else 0))
        pending = ""
    return commands
