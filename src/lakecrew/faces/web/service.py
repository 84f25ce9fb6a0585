"""What the pages and the JSON API both call: reads through one long-lived read-only Context
(on one worker thread: SQLite and DuckDB connections belong to their thread, requests come
from a pool), mutations through a writable Context opened for the one call and the same crew
services the CLI uses (approve, exempt, roll back), so
phase rules, locks, the ledger and its history apply unchanged.

Caches: the findings list is kept while the ledger's findings table stays at the same Delta
version (a sweep or an exemption elsewhere moves it); the cost review for `COST_TTL` seconds
(it prices a month of usage), the model registry for `MODELS_TTL` — the pages say how old.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from lakecrew.faces.web import views, views_sections
from lakecrew.faces.web.views import MAX_PER_PAGE
from lakecrew.ports.ledger import FindingRow

if TYPE_CHECKING:
    from lakecrew.faces.web.oidc import OidcLogin
    from lakecrew.ports.clock import Clock
    from lakecrew.wiring.context import Context

COST_TTL = 300.0
MODELS_TTL = 60.0
P = ParamSpec("P")
R = TypeVar("R")
FINDINGS_TABLE = "lakecrew.crew.findings"


def _serial(method: Callable[P, R]) -> Callable[P, R]:
    """Run the method on the dashboard's one worker thread (SQLite and DuckDB connections
    belong to the thread that opened them; requests arrive on a pool of threads)."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        assert isinstance(self, Dashboard)
        if threading.current_thread() is self._thread:
            return method(*args, **kwargs)
        return self._pool.submit(method, *args, **kwargs).result()

    return run


class Dashboard:
    """The data behind `lakecrew serve` for one project."""

    def __init__(self, project: Path, clock: Clock | None = None) -> None:
        self.project = project
        self.clock = clock
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lakecrew-dashboard")
        self._thread = self._pool.submit(threading.current_thread).result()
        self._lc: Context | None = None
        self._findings: tuple[int, list[FindingRow]] | None = None
        self._cost: tuple[float, dict[str, Any]] | None = None
        self._models: tuple[float, dict[str, Any]] | None = None

    def _read(self) -> Context:
        from lakecrew.wiring.context import Context

        if self._lc is None:
            self._lc = Context.open(self.project, writable=False, clock=self.clock)
        return self._lc

    def close(self) -> None:
        self._close()
        self._pool.shutdown()

    @_serial
    def _close(self) -> None:
        if self._lc is not None:
            self._lc.close()
            self._lc = None

    # ------------------------------------------------------------------------------ reads

    @_serial
    def findings_rows(self) -> list[FindingRow]:
        """Every finding, newest first (cached per Delta version of the findings table)."""
        lc = self._read()
        store = lc.store
        version = store.version(FINDINGS_TABLE) if store.exists(FINDINGS_TABLE) else -1
        if self._findings is None or self._findings[0] != version:
            rows = views.sorted_findings(lc.ledger.findings()) if version >= 0 else []
            self._findings = (version, rows)
        return self._findings[1]

    @_serial
    def findings(self, query: views.FindingQuery) -> dict[str, Any]:
        """One page, filtered, counted and paged by the ledger (SQL), not over a Python list;
        a page past the last one is asked again as the last page."""
        lc = self._read()
        per_page, offset = query.window(max(0, query.page) * MAX_PER_PAGE)
        found = lc.ledger.finding_page(query.store_filter(), limit=per_page, offset=offset)
        _, last = query.window(found.total)
        if last != offset:
            found = lc.ledger.finding_page(query.store_filter(), limit=per_page, offset=last)
        return views.findings_view(found, query, lc.pack)

    @_serial
    def overview(self) -> dict[str, Any]:
        lc = self._read()
        return views.overview(lc, lc.ledger.open_counts())

    @_serial
    def actions(self, workspace: str | None, status: str | None) -> dict[str, Any]:
        return views.actions_list(self._read(), workspace, status)

    @_serial
    def pipelines(self) -> dict[str, Any]:
        return views_sections.pipelines(self._read())

    @_serial
    def cost(self) -> dict[str, Any]:
        if self._cost is None or time.monotonic() - self._cost[0] > COST_TTL:
            self._cost = (time.monotonic(), views_sections.finops(self._read()))
        age = round(time.monotonic() - self._cost[0])
        return {**self._cost[1], "cache_age_seconds": age}

    @_serial
    def models(self) -> dict[str, Any]:
        """The MLflow registry (kept for `MODELS_TTL` seconds: it reads every version's run)."""
        if self._models is None or time.monotonic() - self._models[0] > MODELS_TTL:
            self._models = (time.monotonic(), views_sections.models(self._read()))
        return {**self._models[1], "cache_age_seconds": round(time.monotonic() - self._models[0])}

    @_serial
    def governance(self) -> dict[str, Any]:
        lc = self._read()
        return views_sections.governance(lc, lc.ledger.open_counts())

    @_serial
    def weekly(self, *, top: int = 100) -> dict[str, Any]:
        """The report's view model from this server's (cached) sections — `views.weekly`."""
        rows = self.findings_rows()
        lc = self._read()
        cost = {k: v for k, v in self.cost().items() if k != "cache_age_seconds"}
        return views.weekly(lc, top=top, rows=rows, cost=cost)

    @_serial
    def oidc(self) -> OidcLogin | None:
        """The OIDC sign-in of lakecrew.yaml's `web.oidc` (None when not configured); its
        client secret read from the SecretStore now, so a missing one stops the server."""
        from lakecrew.faces.web.oidc import OidcLogin

        lc = self._read()
        cfg = lc.config.web.oidc
        if cfg is None:
            return None
        secret = None
        if cfg.client_secret is not None:
            ref = cfg.client_secret
            secret = lc.secrets.get(ref.scope, ref.key).get_secret_value()
        return OidcLogin(cfg, secret)

    @_serial
    def rules(self) -> list[dict[str, Any]]:
        """The SOP pack's rules by SOP section (the target of the findings' SOP links)."""
        pack = self._read().pack
        rules = sorted(pack.rules, key=lambda r: (_section_key(r.sop_section), r.id))
        return [
            {
                "id": r.id,
                "title": r.title,
                "sop_section": r.sop_section,
                "severity": r.severity,
                "remediation": r.remediation,
                "min_phase": r.min_phase,
                "enabled": r.enabled,
            }
            for r in rules
        ]

    # -------------------------------------------------------------------------- mutations

    def _write(self) -> Context:
        from lakecrew.wiring.context import Context

        return Context.open(self.project, writable=True, clock=self.clock)

    @_serial
    def approve(self, action_id: str, *, user: str, reason: str) -> dict[str, Any]:
        with self._write() as lc:
            row = lc.crew.approve(action_id, approver=f"{user} (web)", reason=reason)
        return views.action_item(row)

    @_serial
    def rollback(self, action_id: str, *, user: str) -> dict[str, Any]:
        """Restore an applied action's before-state (the CLI's `lakecrew rollback`)."""
        with self._write() as lc:
            row = lc.crew.action(action_id)
            if row.workspace == "(models)":
                from lakecrew.faces.cli.models import rollback_model_action

                done = rollback_model_action(lc, row, force=False)
            else:
                done = lc.crew.rollback(row, lc.workspace(row.workspace))
        del user  # the ledger's history records the rollback itself
        return views.action_item(done)

    @_serial
    def exempt(self, form: dict[str, str], *, user: str) -> dict[str, Any]:
        """Exempt one resource from one rule until the end of the given day (UTC)."""
        from lakecrew.core.errors import UsageError
        from lakecrew.faces.cli.jsonable import to_jsonable

        until = _until(form.get("until", ""))
        with self._write() as lc:
            workspace = form.get("workspace") or "*"
            if workspace != "*" and workspace not in lc.config.names():
                raise UsageError(f"unknown workspace {workspace!r}", fix="pick one from the list")
            row = lc.crew.exempt(
                form.get("rule", ""),
                form.get("resource", ""),
                reason=form.get("reason", ""),
                approver=f"{user} (web)",
                until=until,
                workspace=workspace,
            )
        return to_jsonable(row)  # type: ignore[no-any-return]


def _until(text: str) -> datetime:
    from lakecrew.core.errors import UsageError

    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), dtime(23, 59, 59), tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"until {text!r} is not a date", fix="e.g. 2026-12-31") from None
    if parsed.tzinfo is None:
        raise UsageError(f"until {text!r} has no timezone", fix="e.g. 2026-12-31T00:00:00+00:00")
    return parsed


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in section.split("."))
