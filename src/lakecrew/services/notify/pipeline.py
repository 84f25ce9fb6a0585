"""The operating loop of alerts: route a sweep's news into the outbox, add due digests and
escalations, deliver. Built by the composition root when lakecrew.yaml has `notifications:`.

    alerts.publish(scope, findings, resolved=..., actions=..., prior_evidence=..., now=now)
    alerts.tick(now)                     # `lakecrew outbox deliver`: digests, escalations, drain
    alerts.test("prod-critical", now)    # `lakecrew notify test prod-critical`
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from lakecrew.core.errors import LakecrewError, NotFound
from lakecrew.ports.ledger import ActionRow, FindingRow
from lakecrew.ports.notify import AlertItem, Notification, Notifier
from lakecrew.ports.outbox import Ack, AckSource, OutboxStore
from lakecrew.services.crew.policy_step import TrackedFinding
from lakecrew.services.estate.notify_config import NotifyConfig
from lakecrew.services.notify.items import row_item, scrub, sweep_items
from lakecrew.services.notify.messages import message_key, queue
from lakecrew.services.notify.outbox import Dispatcher, DrainReport, OutboxSettings
from lakecrew.services.notify.router import Router, acked


@dataclass(frozen=True)
class PublishReport:
    items: int
    queued: int
    drain: DrainReport


class AlertPipeline:
    """Router + outbox + dispatcher for one project."""

    def __init__(
        self,
        config: NotifyConfig,
        store: OutboxStore,
        channels: Mapping[str, Notifier],
        *,
        context: Mapping[str, tuple[str, str]],
        findings: Callable[[], Sequence[FindingRow]],
        escalate_after_hours: float | None,
        after_send: Callable[..., None] | None = None,
        ack_sources: Mapping[str, AckSource] | None = None,
        digest_summary: Callable[[str], tuple[str, str]] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.router = Router(config)
        self.context = context  # workspace name → (environment, project)
        self._findings = findings
        self.escalate_after_hours = escalate_after_hours
        self.ack_sources = ack_sources or {}
        self.digest_summary = digest_summary  # day → (text, model): the Comms agent
        o = config.outbox
        rates = {n: c.rate_per_minute for n, c in config.channels.items() if c.rate_per_minute}
        self.dispatcher = Dispatcher(
            store,
            channels,
            OutboxSettings(
                max_attempts=o.max_attempts,
                base_delay=o.base_delay_seconds,
                max_delay=o.max_delay_seconds,
                rate_per_minute=rates,
            ),
            after_send=after_send,
        )

    def publish(
        self,
        scope: str,
        findings: Sequence[TrackedFinding],
        *,
        resolved: Sequence[FindingRow],
        actions: Sequence[ActionRow],
        prior_evidence: Mapping[str, str],
        now: datetime,
    ) -> PublishReport:
        """Queue this sweep's news (written before anything is sent), then tick."""
        env, project = self.context.get(scope, ("", ""))
        items = sweep_items(
            findings, resolved, actions, prior_evidence, environment=env, project=project
        )
        queued = self.store.put(self.router.immediate(items, now))
        report = self.tick(now, summaries=False)
        return PublishReport(len(items), queued, report)

    def queue(
        self,
        scope: str,
        findings: Sequence[TrackedFinding],
        *,
        actions: Sequence[ActionRow],
        prior_evidence: Mapping[str, str],
        now: datetime,
    ) -> int:
        """Queue one batch of a streamed sweep's news (no delivery: `publish` at the sweep's
        end queues the rest and ticks); returns how many messages were added."""
        env, project = self.context.get(scope, ("", ""))
        items = sweep_items(findings, (), actions, prior_evidence, environment=env, project=project)
        return self.store.put(self.router.immediate(items, now))

    def publish_rows(
        self,
        rows: Sequence[FindingRow],
        *,
        prior_evidence: Mapping[str, str],
        environment: str,
        project: str,
        now: datetime,
    ) -> PublishReport:
        """Route ledger findings recorded outside a sweep (model drift): new ones, and open ones
        whose evidence changed since `prior_evidence`, through the same routes and outbox."""
        items = []
        for r in rows:
            if r.status != "open":
                continue
            before = prior_evidence.get(r.fingerprint)
            if before == r.evidence_json:
                continue
            event = "new" if before is None else "changed"
            items.append(row_item(r, event, environment=environment, project=project))
        queued = self.store.put(self.router.immediate(items, now))
        return PublishReport(len(items), queued, self.tick(now, summaries=False))

    def tick(self, now: datetime, *, summaries: bool = True) -> DrainReport:
        """Queue due digests (a sweep ticks with `summaries=False`: daily digests then wait for
        `outbox deliver`, which may ask the Comms agent when a model is configured); read
        acknowledgements from PagerDuty and the trackers for the findings that would escalate;
        queue the escalations still due; deliver."""
        rows = self._findings()
        made, summary_errors = self._queue_digests(rows, now, summaries)
        acknowledged, ack_errors = self.poll_acks(rows, now)
        self.store.put(
            self.router.escalations(
                rows, self.context, self.store.acks(), self.escalate_after_hours, now
            )
        )
        report = self.dispatcher.drain(now)
        report.acknowledged, report.ack_errors = acknowledged, ack_errors
        report.summaries, report.summary_errors = made, summary_errors
        return report

    def _queue_digests(
        self, rows: Sequence[FindingRow], now: datetime, summaries: bool
    ) -> tuple[int, list[str]]:
        """Queue due digests; a daily digest not queued yet carries the Comms agent's summary
        when a model is configured. A model that fails leaves the deterministic digest (sent
        anyway) and an error in the report; the summary is asked once per day covered."""
        if self.digest_summary is None:
            self.store.put(self.router.digests(rows, self.context, now))
            return 0, []
        if not summaries:
            self.store.put(self.router.digests(rows, self.context, now, skip_daily=True))
            return 0, []
        ask = self.digest_summary
        written: dict[str, tuple[str, str] | None] = {}
        errors: list[str] = []

        def summary(day: str) -> tuple[str, str] | None:
            if day not in written:
                try:
                    text, model = ask(day)
                    written[day] = (scrub(text), model)
                except LakecrewError as exc:
                    written[day] = None
                    errors.append(f"digest {day}: {exc.one_line()}")
            return written[day]

        queued = {m.message_id for m in self.store.messages() if m.kind == "digest"}
        due = self.router.digests(rows, self.context, now, summary=summary, queued=queued)
        self.store.put(due)
        made = sum(
            1
            for m in due
            if m.message_id not in queued and json.loads(m.payload_json).get("summary")
        )
        return made, errors

    def poll_acks(self, rows: Sequence[FindingRow], now: datetime) -> tuple[int, list[str]]:
        """Acknowledgements held outside lakecrew for the findings about to escalate (an
        unreadable source is an error in the report; its findings still escalate)."""
        due = [
            r.fingerprint
            for r in self.router.escalations(
                rows, self.context, self.store.acks(), self.escalate_after_hours, now
            )
            if r.fingerprint
        ]
        found, errors = 0, []
        for name, source in self.ack_sources.items():
            pending = sorted(set(due) - self._acked(rows))
            if not pending:
                break
            try:
                acks = source.acks(pending, now)
            except LakecrewError as exc:
                errors.append(f"{name}: {exc.one_line()}")
                continue
            for ack in acks:
                self.store.ack(ack)
            found += len(acks)
        return found, errors

    def _acked(self, rows: Sequence[FindingRow]) -> set[str]:
        acks = self.store.acks()
        return {r.fingerprint for r in rows if acked(r, acks)}

    def test(self, route_name: str, now: datetime) -> tuple[list[str], DrainReport]:
        """A labelled test message to every channel of one route, sent now."""
        route = self.config.route(route_name)
        if route is None:
            names = ", ".join(r.name for r in self.config.routes) or "none"
            raise NotFound(
                f"no route {route_name!r} in lakecrew.yaml",
                where="notifications.routes",
                fix=f"use one of: {names}",
            )
        item = AlertItem(
            fingerprint=message_key("test", route.name, now.isoformat()),
            event="test",
            severity="info",
            rule_id="lakecrew.test",
            title=f"Test message for route {route.name}",
            sop_section="1.8.4",
            resource_type="route",
            resource_id=route.name,
            resource_name=None,
            workspace="(test)",
            environment="",
            project="",
            owner="lakecrew",
            evidence="{}",
            fix="Nothing to do: this checks that the channel reaches you.",
        )
        sent = []
        for ch in (*route.channels, *route.escalate_to):
            key = message_key(ch, "test", route.name, now.isoformat())
            n = Notification(
                key, "(test)", "lakecrew", "info", item.title, item.fix, (item,), kind="test"
            )
            self.store.put([queue(ch, n, now)])
            sent.append(ch)
        return sent, self.dispatcher.drain(now)

    def ack(self, fingerprint: str, by: str, now: datetime, note: str = "") -> Ack:
        ack = Ack(fingerprint, by, "cli", now, note)
        self.store.ack(ack)
        return ack
