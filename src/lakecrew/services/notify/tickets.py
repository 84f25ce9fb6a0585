"""RoutedTickets: the local ticket store (the embedded default, always written) plus the
remote trackers whose routes match each finding (Jira, ServiceNow), behind one TicketSystem.

A remote tracker that fails (down, 429, refused) does not stop the sweep: the error is kept in
`errors`, the sweep takes it (`take_errors`), prints it, records it on its run row and exits 1;
the ticket is synced on a later sweep — every
call retries the open local tickets that a matching tracker does not hold yet (the backlog).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from lakecrew.core.errors import LakecrewError, Transient
from lakecrew.ports.notify import AlertItem
from lakecrew.ports.tickets import Ticket, TicketComment, TicketDraft, TicketSystem
from lakecrew.services.estate.notify_config import NotifyConfig
from lakecrew.services.notify.router import routes_for


class RoutedTickets:
    """TicketSystem over the local store and routed remote trackers."""

    def __init__(
        self,
        local: TicketSystem,
        trackers: Mapping[str, TicketSystem],
        config: NotifyConfig,
        context: Mapping[str, tuple[str, str]],
        *,
        holds: Callable[[str, str], bool],
    ) -> None:
        self.local = local
        self.name = local.name
        self.trackers = trackers
        self.config = config
        self.context = context
        self._holds = holds  # (tracker, fingerprint) → the tracker has a ticket for it
        self.errors: list[str] = []

    def _targets(self, d: TicketDraft) -> list[str]:
        env, project = self.context.get(d.workspace, ("", ""))
        probe = AlertItem(
            d.fingerprint,
            "new",
            d.severity,
            d.rule_id,
            d.title,
            "",
            "",
            d.resource_id,
            None,
            d.workspace,
            env,
            project,
            d.owner,
            "",
            "",
        )
        names: list[str] = []
        for route in routes_for(self.config, probe):
            names += [t for t in route.tickets if t not in names]
        return names

    def _remote(self, name: str, op: str, *args: object) -> None:
        try:
            getattr(self.trackers[name], op)(*args)
        except LakecrewError as exc:
            self.errors.append(f"{name}: {exc.one_line()}")

    def take_errors(self) -> list[str]:
        """The tracker errors since the last call (the sweep reports them, then they clear)."""
        out, self.errors = self.errors, []
        return out

    def upsert(self, draft: TicketDraft, at: datetime) -> Ticket:
        return self.upsert_many([draft], at)[0]

    def upsert_many(self, drafts: Sequence[TicketDraft], at: datetime) -> list[Ticket]:
        out = self.local.upsert_many(drafts, at) if drafts else []
        seen = {d.fingerprint for d in drafts}
        backlog = [
            _draft(t) for t in self.local.list() if t.status == "open" and t.fingerprint not in seen
        ]
        for d in [*drafts, *backlog]:
            for name in self._targets(d):
                if d.fingerprint in seen or not self._holds(name, d.fingerprint):
                    self._remote(name, "upsert", d, at)
        return out

    def resolve(self, fingerprint: str, resolution: str, at: datetime) -> Ticket | None:
        done = self.local.resolve(fingerprint, resolution, at)
        for name in self.config.trackers:
            if self._holds(name, fingerprint):
                self._remote(name, "resolve", fingerprint, resolution, at)
        return done

    def comment(self, comment: TicketComment) -> str:
        """The comment on the local ticket, then on every tracker holding the finding's ticket
        (each once per comment_id). A tracker that fails raises after the others were tried:
        calling again posts only where it is still missing."""
        keys = [self.local.comment(comment)]
        failed: list[str] = []
        for name in self.config.trackers:
            if not self._holds(name, comment.fingerprint):
                continue
            try:
                keys.append(f"{name} {self.trackers[name].comment(comment)}")
            except LakecrewError as exc:
                failed.append(f"{name}: {exc.one_line()}")
        if failed:
            raise Transient(
                f"comment kept on {keys[0]} but not posted to {'; '.join(failed)}",
                fix="approve again when the tracker is back (it is posted once)",
            )
        return ", ".join(keys)

    def comments(self, fingerprint: str) -> list[TicketComment]:
        return self.local.comments(fingerprint)

    def get(self, fingerprint: str) -> Ticket | None:
        return self.local.get(fingerprint)

    def states(self, fingerprints: Sequence[str]) -> dict[str, str]:
        return self.local.states(fingerprints)

    def close(self) -> None:
        close = getattr(self.local, "close", None)
        if close is not None:
            close()

    def list(self, workspace: str | None = None) -> list[Ticket]:
        return self.local.list(workspace)


def _draft(t: Ticket) -> TicketDraft:
    return TicketDraft(
        t.fingerprint, t.workspace, t.rule_id, t.resource_id, t.severity, t.owner, t.title, t.body
    )
