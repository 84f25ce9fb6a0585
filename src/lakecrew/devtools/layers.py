"""Check the layer rules of ARCHITECTURE.md on the source tree.

- core imports nothing of lakecrew but core, and no vendor library;
- ports import core and ports only;
- services import core, ports and services, never adapters, faces or the context;
- vendor SDKs (databricks-sdk, pyspark, mlflow, smolagents, deltalake, duckdb, psycopg) are
  imported only inside adapters (and devtools/testing helpers).

Usage: python -m lakecrew.devtools.layers src/lakecrew  (exit 1 and one line per violation).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

VENDOR = ("databricks", "pyspark", "mlflow", "smolagents", "deltalake", "duckdb", "psycopg")
ALLOWED: dict[str, tuple[str, ...]] = {
    "core": ("core",),
    "ports": ("core", "ports"),
    "services": ("core", "ports", "services"),
}
VENDOR_FREE = ("core", "ports", "services", "faces")


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def check(root: Path) -> list[str]:
    problems: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        layer = rel.parts[0] if len(rel.parts) > 1 else ""
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for lineno, module in _imports(tree):
            top = module.split(".")[0]
            if layer in VENDOR_FREE and top in VENDOR:
                problems.append(
                    f"{path}:{lineno}: {layer}/ imports vendor library {module!r} — "
                    "fix: move the code into an adapter behind a port"
                )
            if layer in ALLOWED and module.startswith("lakecrew."):
                target = module.split(".")[1]
                if target not in ALLOWED[layer]:
                    problems.append(
                        f"{path}:{lineno}: {layer}/ imports lakecrew.{target} — "
                        f"fix: {layer}/ may import only {', '.join(ALLOWED[layer])}"
                    )
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "src/lakecrew")
    problems = check(root)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
