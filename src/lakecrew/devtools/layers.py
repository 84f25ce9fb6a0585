"""Check the layer rules of ARCHITECTURE.md on the source tree.

- core imports nothing of lakecrew but core, and no vendor library;
- ports import core and ports only;
- services import core, ports and services, never adapters, faces or the wiring;
- adapters import core, ports and adapters only (never services, faces or the wiring);
- `lakecrew.testing` is never imported by product code (only tests, benchmarks, devtools);
- vendor SDKs (databricks-sdk, pyspark, mlflow, smolagents, deltalake, duckdb, psycopg) are
  imported only inside adapters (and devtools/testing helpers);
- heavy libraries (matplotlib, pandas) only inside adapters; faces import pyarrow and the other
  heavy libraries inside the commands that need them, never at module level;
- web libraries (fastapi, starlette, jinja2, uvicorn, argon2, markupsafe, playwright, authlib,
  joserfc) only in
  faces (the dashboard) and test helpers;
- no import circle between lakecrew modules (imports under `if TYPE_CHECKING:` excepted).

Usage: python -m lakecrew.devtools.layers src/lakecrew  (exit 1 and one line per violation).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

VENDOR = (
    "databricks",
    "pyspark",
    "mlflow",
    "smolagents",
    "openai",
    "litellm",
    "mcp",
    "deltalake",
    "duckdb",
    "psycopg",
    "detect_secrets",
)
HEAVY_ADAPTERS_ONLY = ("matplotlib", "pandas")
WEB_FACES_ONLY = (
    "fastapi", "starlette", "jinja2", "uvicorn", "argon2", "markupsafe", "playwright",
    "authlib", "joserfc",
)  # fmt: skip
HEAVY_LAZY_IN_FACES = ("pyarrow", "matplotlib", "pandas", "numpy", *VENDOR)
ALLOWED: dict[str, tuple[str, ...]] = {
    "core": ("core",),
    "ports": ("core", "ports"),
    "services": ("core", "ports", "services"),
    "adapters": ("core", "ports", "adapters"),
}
VENDOR_FREE = ("core", "ports", "services", "faces")
MAY_USE_TESTING = ("testing", "devtools")


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers of the statements under `if TYPE_CHECKING:`."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(tree: ast.Module) -> Iterator[tuple[int, str, bool, tuple[str, ...]]]:
    """(line, module, at module level, imported names) of every absolute import."""
    top = {id(n) for n in tree.body}
    top |= {id(c) for n in tree.body if isinstance(n, ast.If | ast.Try) for c in n.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in top, ()
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = tuple(a.name for a in node.names)
            yield node.lineno, node.module, id(node) in top, names


def _targets(module: str, names: tuple[str, ...], known: set[str]) -> set[str]:
    """The lakecrew modules an import loads: `from pkg import sub` is `pkg.sub`, not `pkg`."""
    subs = {f"{module}.{n}" for n in names} & known
    if subs and len(subs) == len(names):
        return subs
    return subs | ({module} & known)


def _layer_problems(path: Path, layer: str, tree: ast.Module) -> list[str]:
    problems: list[str] = []
    for lineno, module, at_top, _ in _imports(tree):
        top = module.split(".")[0]
        where = f"{path}:{lineno}: {layer}/"
        if layer in VENDOR_FREE and top in VENDOR:
            problems.append(
                f"{where} imports vendor library {module!r} — "
                "fix: move the code into an adapter behind a port"
            )
        if layer in VENDOR_FREE and top in HEAVY_ADAPTERS_ONLY:
            problems.append(
                f"{where} imports {top} — fix: only adapters may import {top} (render there)"
            )
        if top in WEB_FACES_ONLY and layer not in ("faces", *MAY_USE_TESTING):
            problems.append(
                f"{where} imports {top} — fix: web libraries belong to faces/web (the dashboard)"
            )
        if layer == "faces" and at_top and top in HEAVY_LAZY_IN_FACES:
            problems.append(
                f"{where} imports {top} at module level — "
                "fix: import it inside the command that needs it (fast --help)"
            )
        if not module.startswith("lakecrew."):
            continue
        target = module.split(".")[1]
        if target == "testing" and layer not in MAY_USE_TESTING:
            problems.append(
                f"{where} imports lakecrew.testing — fix: test helpers are for tests only; "
                "move what the product needs out of lakecrew.testing"
            )
        if layer in ALLOWED and target not in ALLOWED[layer]:
            problems.append(
                f"{where} imports lakecrew.{target} — "
                f"fix: {layer}/ may import only {', '.join(ALLOWED[layer])}"
            )
    return problems


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(root: Path) -> list[str]:
    problems: list[str] = []
    trees: dict[str, ast.Module] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        layer = rel.parts[0] if len(rel.parts) > 1 else ""
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        problems += _layer_problems(path, layer, tree)
        trees[_module_name(root, path)] = tree
    known = set(trees)
    graph: dict[str, set[str]] = {}
    for name, tree in trees.items():
        typing_only = _type_checking_lines(tree)
        graph[name] = set()
        for line, module, _, names in _imports(tree):
            if line not in typing_only:
                graph[name] |= _targets(module, names, known)
        graph[name].discard(name)
    for cycle in _cycles(graph):
        problems.append(
            f"import circle: {' → '.join(cycle)} — fix: move what both need into a module "
            "below them (a leaf module, a port or core)"
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
