"""The `lakecrew` command families, built only when used (click's "lazy group" pattern).

``FAMILIES`` is a static table: each top-level command or group, the CLI module that defines it,
how it is attached and the help paragraph `lakecrew --help` shows for it. ``LazyCommands`` is the
root group's command mapping: `lakecrew --help` (and completing a top-level name) reads the table
alone — no command module imported, no typer command built — and `lakecrew sweep …` imports
``crew.py`` and builds its commands only.

Adding a family: one line here (its place in the table is its place in `lakecrew --help`).
tests/unit/cli/test_lazy_commands.py builds the real tree and fails, saying which line to fix,
when a name, a help text or a module's commands drift from this table.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand


@dataclass(frozen=True)
class Family:
    """One top-level command or group of `lakecrew`."""

    name: str
    module: str  # under lakecrew.faces.cli
    attach: str  # "register": module.register(app) adds it; else a typer.Typer attribute of module
    help: str  # the first paragraph of its help, as `lakecrew --help` shows it

    def add_to(self, app: typer.Typer) -> None:
        """Attach this family's module to ``app`` (what main.py's eager block used to do)."""
        module = importlib.import_module(f"lakecrew.faces.cli.{self.module}")
        if self.attach == "register":
            module.register(app)
        else:
            app.add_typer(getattr(module, self.attach), name=self.name)


R = "register"
# fmt: off
FAMILIES: tuple[Family, ...] = (
    Family("init", "commands", R, "Write a commented starter lakecrew.yaml (four example workspaces) into the project."),
    Family("simulate", "commands", R, "Fill the local backend with a clearly labelled, simulated demo estate."),
    Family("sql", "commands", R, "Run one SQL query (Databricks dialect) against the project's engine and show the rows."),
    Family("demo", "commands", R, "End-to-end demo on a simulated estate: init, simulate, sweep, report."),
    Family("sweep", "crew", R, "Observe, evaluate the SOP pack, plan (and with --apply act), notify, ticket."),
    Family("findings", "crew", R, "Findings history from the ledger (open, resolved, exempted)."),
    Family("actions", "crew", R, "Actions from the ledger, with before/after states (objects in JSON; `--wide` in text)."),
    Family("rollback", "crew", R, "Restore the before-state saved by an applied action."),
    Family("exempt", "crew", R, "Exempt one resource from one rule until a date (reason and approver recorded)."),
    Family("approve", "crew", R, "Approve an action awaiting approval (e.g. pause_job); the next --apply sweep runs it."),
    Family("models", "models", R, "Registered models: versions, aliases, owners, last use and lineage."),
    Family("ack", "alerts", R, "Acknowledge a finding: its escalation stops (SOP 1.8.4)."),
    Family("doctor", "doctor", R, "Which APIs and system tables answer, what is missing and why, which warehouse is used,\nand the SDK/auth in use — per workspace; and that every table of the local metastore lies\ninside the project. Read-only; exit 1 when anything is missing."),
    Family("ask", "assist", R, "Ask the Observer/analyst agent; it answers with cited evidence (read-only tools)."),
    Family("mcp", "assist", R, "Serve the read and proposal tools over MCP (stdio) for other assistants; every call is\nrecorded in lakecrew.crew.agent_runs. Needs no model."),
    Family("report", "web", R, "The weekly picture — estate, findings, actions, SLAs, cost, governance — as one HTML file\n(inline CSS and SVG charts; opens offline) and/or JSON (the same view models)."),
    Family("serve", "web", R, "Serve the dashboard (estate, findings, actions, pipelines, FinOps, governance) and its\nJSON API under /api/ — log in with an account from `lakecrew users add`."),
    Family("classify", "privacy", R, "Propose a PII kind per column (kind, confidence, sampled values that matched)."),
    Family("estate", "estate", "app", "The estate: registered workspaces (lakecrew.yaml)."),
    Family("pipeline", "pipeline", "app", "Medallion pipelines: bronze → silver → gold from a YAML spec."),
    Family("policy", "policy", "app", "The SOP pack: list and explain its rules, validate it, export cluster policies."),
    Family("cost", "cost", "app", "FinOps: cost reports (SOP 1.9.4, 2.2.1, 3.1.6)."),
    Family("anomalies", "cost", "anomalies_app", "Anomaly detection on any time series."),
    Family("deploy", "deploy", "app", "Deploy lakecrew itself: a Databricks Asset Bundle running the sweep."),
    Family("secrets", "secrets", "app", "Secret scanning (SOP 1.4.2, 3.1.7)."),
    Family("security", "security", "app", "Identity and platform security checks (SOP 1.4)."),
    Family("model", "models", R, "MLflow models: promotion gates, drift, hygiene (SOP 1.7, 3.1.5)."),
    Family("outbox", "alerts", R, "The durable outbox of notifications: inspect, deliver, retry."),
    Family("notify", "alerts", R, "Notification routes."),
    Family("agent", "assist", R, "The crew's agents: triage a ticket, write the digest summary."),
    Family("proposals", "assist", R, "Agent proposals: list, approve or reject (a person decides)."),
    Family("govern", "governance", R, "Unity Catalog enforcement: owners, tags, masks, comments (SOP 1.3.1)."),
    Family("access", "governance", R, "Temporary access and access reviews (SOP 1.3.2)."),
    Family("compliance", "governance", R, "The monthly Unity Catalog compliance report (SOP 1.3.4)."),
    Family("users", "web", "users_app", "Local accounts of the dashboard (viewer or operator)."),
)
# fmt: on


class LazyCommands(MutableMapping[str, Any]):
    """The root group's ``commands``: names from the table, each command built on first use.

    Building a family imports its module, attaches it to a throwaway typer app and builds that
    app's click group (all the module's commands, usually a handful); what was built is kept.
    Inside ``listing()`` a family not built yet is a stub command carrying the table's help, so
    listing the commands imports nothing."""

    def __init__(self, families: tuple[Family, ...] = FAMILIES) -> None:
        self._families = {f.name: f for f in families}
        self._built: dict[str, Any] = {}
        self._groups: dict[tuple[str, str], Any] = {}
        self._stubs = False

    def __getitem__(self, name: str) -> Any:
        if name in self._built:
            return self._built[name]
        family = self._families[name]  # KeyError: not a command
        if self._stubs:
            return TyperCommand(name, help=family.help)
        self._built[name] = self._build(family)
        return self._built[name]

    def _build(self, family: Family) -> Any:
        key = (family.module, family.attach)
        if key not in self._groups:
            sub = typer.Typer()
            family.add_to(sub)
            self._groups[key] = typer.main.get_group(sub)
        commands = self._groups[key].commands
        if family.name not in commands:
            raise LookupError(
                f"faces/cli/families.py lists {family.name!r} in module {family.module!r}, which "
                f"defines {sorted(commands)}: fix the table"
            )
        return commands[family.name]

    def build_all(self) -> None:
        """Build every family (the tree as an eager typer app would have it)."""
        for name in self._families:
            self[name]

    @contextmanager
    def listing(self) -> Iterator[None]:
        """Families not built yet are stubs (name and help) while listing the commands."""
        self._stubs = True
        try:
            yield
        finally:
            self._stubs = False

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        if self._families.pop(name, None) is None and name not in self._built:
            raise KeyError(name)
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        yield from self._families
        yield from (name for name in self._built if name not in self._families)

    def __len__(self) -> int:
        return len(self._families) + sum(1 for n in self._built if n not in self._families)
