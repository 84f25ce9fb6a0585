"""Builders of the alert pipeline for a Context (composition root: `Context.alerts`).

Channels are built lazily from lakecrew.yaml `notifications.channels`, reading webhook URLs,
tokens and passwords from the SecretStore at first use; a channel whose secret is missing
answers a failed Delivery naming the secret and how to set it (the message stays in the outbox,
nothing is lost), never the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from lakecrew.adapters.local.outbox_store import SqliteOutbox
from lakecrew.core.errors import LakecrewError, Transient, UsageError
from lakecrew.ports.notify import Delivery, Notification, Notifier
from lakecrew.ports.outbox import Ack, AckSource
from lakecrew.ports.secrets import SecretStore
from lakecrew.ports.tickets import TicketSystem
from lakecrew.services.estate import notify_config as nc
from lakecrew.services.notify.pipeline import AlertPipeline

if TYPE_CHECKING:
    from lakecrew.wiring.context import Context


class UnavailableChannel:
    """A configured channel that cannot be built (missing secret): every send fails, retryably."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def send(self, notification: Notification) -> Delivery:
        return Delivery(False, self.reason)


def build_channel(name: str, cfg: nc.Channel, secrets: SecretStore, root: Path) -> Notifier:
    """The adapter of one configured channel (vendor imports stay inside the adapters)."""
    from lakecrew.adapters.local.channels import ConsoleChannel, FileChannel
    from lakecrew.adapters.notify import channels as http
    from lakecrew.adapters.notify.email import EmailChannel
    from lakecrew.adapters.notify.slack import SlackApiChannel, SlackWebhookChannel

    ch: Notifier
    if isinstance(cfg, nc.SlackWebhookChannel):
        ch = SlackWebhookChannel(name, secrets.get(cfg.url.scope, cfg.url.key))
    elif isinstance(cfg, nc.SlackApiChannel):
        token = secrets.get(cfg.token.scope, cfg.token.key)
        ch = SlackApiChannel(name, token, cfg.channel, base_url=cfg.base_url)
    elif isinstance(cfg, nc.TeamsChannel):
        ch = http.TeamsWorkflowChannel(name, secrets.get(cfg.url.scope, cfg.url.key))
    elif isinstance(cfg, nc.PagerDutyChannel):
        key = secrets.get(cfg.routing_key.scope, cfg.routing_key.key)
        ch = http.PagerDutyChannel(name, key, url=cfg.url)
    elif isinstance(cfg, nc.WebhookChannel):
        ch = http.SignedWebhookChannel(
            name,
            secrets.get(cfg.url.scope, cfg.url.key),
            secrets.get(cfg.signing_key.scope, cfg.signing_key.key),
        )
    elif isinstance(cfg, nc.EmailChannel):
        password = secrets.get(cfg.password.scope, cfg.password.key) if cfg.password else None
        ch = EmailChannel(
            name,
            host=cfg.host,
            port=cfg.port,
            sender=cfg.sender,
            to=cfg.to,
            starttls=cfg.starttls,
            username=cfg.username,
            password=password,
        )
    elif isinstance(cfg, nc.SiemFileChannel | nc.SplunkHecChannel):
        ch = _siem_channel(name, cfg, secrets, root)
    elif isinstance(cfg, nc.FileChannel):
        path = Path(cfg.path)
        file_ch = FileChannel(path if path.is_absolute() else root / path)
        file_ch.name = name
        ch = file_ch
    else:
        console = ConsoleChannel()
        console.name = name
        ch = console
    return ch


def _siem_channel(
    name: str, cfg: nc.SiemFileChannel | nc.SplunkHecChannel, secrets: SecretStore, root: Path
) -> Notifier:
    from lakecrew.adapters.notify.siem import SiemFileChannel, SplunkHecChannel

    if isinstance(cfg, nc.SplunkHecChannel):
        token = secrets.get(cfg.token.scope, cfg.token.key)
        return SplunkHecChannel(name, cfg.url, token, index=cfg.index, sourcetype=cfg.sourcetype)
    path = Path(cfg.path)
    return SiemFileChannel(name, path if path.is_absolute() else root / path)


class LazyChannels(Mapping[str, Notifier]):
    """name → channel adapter, built on first use."""

    def __init__(self, config: nc.NotifyConfig, secrets: SecretStore, root: Path) -> None:
        self._config = config
        self._secrets = secrets
        self._root = root
        self._built: dict[str, Notifier] = {}

    def __getitem__(self, name: str) -> Notifier:
        if name not in self._built:
            cfg = self._config.channels[name]  # KeyError: not configured
            try:
                self._built[name] = build_channel(name, cfg, self._secrets, self._root)
            except LakecrewError as exc:
                self._built[name] = UnavailableChannel(name, exc.one_line())
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._config.channels)

    def __len__(self) -> int:
        return len(self._config.channels)


class LazyTrackers(Mapping[str, TicketSystem]):
    """name → Jira / ServiceNow adapter, built on first use (a missing secret raises then)."""

    def __init__(self, config: nc.NotifyConfig, secrets: SecretStore, db: Path) -> None:
        self._config = config
        self._secrets = secrets
        self._db = db
        self._built: dict[str, TicketSystem] = {}

    def __getitem__(self, name: str) -> TicketSystem:
        if name not in self._built:
            self._built[name] = build_tracker(
                name, self._config.trackers[name], self._secrets, self._db
            )
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._config.trackers)

    def __len__(self) -> int:
        return len(self._config.trackers)


def build_tracker(name: str, cfg: nc.Tracker, secrets: SecretStore, db: Path) -> TicketSystem:
    from lakecrew.adapters.notify.ticket_index import TicketIndex
    from lakecrew.adapters.notify.trackers import JiraTracker, ServiceNowTracker

    index = TicketIndex(db, name)
    if isinstance(cfg, nc.JiraTracker):
        return JiraTracker(
            index,
            url=cfg.url,
            email=cfg.email,
            token=secrets.get(cfg.token.scope, cfg.token.key),
            project=cfg.project,
            issue_type=cfg.issue_type,
            component=cfg.component,
            labels=cfg.labels,
            done=cfg.done_transition,
            reopen=cfg.reopen_transition,
        )
    groups = dict(cfg.assignment_groups)
    default = cfg.default_group
    return ServiceNowTracker(
        index,
        url=cfg.url,
        username=cfg.username,
        password=secrets.get(cfg.password.scope, cfg.password.key),
        groups=lambda owner: groups.get(owner, default),
        resolved_state=cfg.resolved_state,
        close_code=cfg.close_code,
    )


def routed_tickets(ctx: Context, local: TicketSystem) -> TicketSystem:
    """The local store, plus Jira/ServiceNow where lakecrew.yaml routes findings to them."""
    config = ctx.config.notifications
    if config is None or not config.trackers:
        return local
    from lakecrew.adapters.notify.ticket_index import TicketIndex
    from lakecrew.services.notify.tickets import RoutedTickets

    db = ctx.layout.state_dir / "tickets.db"
    indexes = {name: TicketIndex(db, name) for name in config.trackers}
    context = {w.name: (w.environment, w.project) for w in ctx.config.workspaces}
    return RoutedTickets(
        local,
        LazyTrackers(config, notify_secrets(ctx), db),
        config,
        context,
        holds=lambda name, fp: indexes[name].get(fp) is not None,
    )


def outbox_store(ctx: Context) -> SqliteOutbox:
    return SqliteOutbox(ctx.layout.state_dir / "outbox.db")


def escalate_after_hours(ctx: Context) -> float | None:
    """The pack's `severities.critical.escalate_after_hours` (SOP 1.8.4)."""
    level = ctx.pack.severities.get("critical")
    return (
        None
        if level is None or level.escalate_after_hours is None
        else float(level.escalate_after_hours)
    )


def notify_secrets(ctx: Context) -> SecretStore:
    """Where channel and tracker secrets are read: a Databricks workspace's secret scopes when
    `notifications.secrets_workspace` names one, else the project's local SecretStore."""
    config = ctx.config.notifications
    name = config.secrets_workspace if config is not None else None
    if name is None:
        return ctx.secrets
    ws = ctx.config.workspace(name)
    if ws.backend != "databricks":
        raise UsageError(
            f"notifications.secrets_workspace {name!r} is not a databricks workspace",
            where=str(ctx.layout.config_path),
            fix="name a workspace with backend: databricks, or remove the key (local secrets)",
        )
    from lakecrew.adapters.databricks import databricks_client
    from lakecrew.adapters.databricks.secrets import DatabricksSecretStore

    return DatabricksSecretStore(databricks_client(ws), name)


class LazyAcks(Mapping[str, AckSource]):
    """name → where acknowledgements are read before escalating: every PagerDuty channel with
    an `api_token` (REST API), every tracker (a ticket taken in hand). Built on first use; a
    missing secret is raised then (said in the delivery report, the findings still escalate)."""

    def __init__(self, config: nc.NotifyConfig, secrets: SecretStore, db: Path) -> None:
        self._config = config
        self._secrets = secrets
        self._trackers = LazyTrackers(config, secrets, db)
        self._names = [
            n
            for n, c in config.channels.items()
            if isinstance(c, nc.PagerDutyChannel) and c.api_token is not None
        ] + list(config.trackers)

    def __getitem__(self, name: str) -> AckSource:
        if name in self._config.trackers:
            return cast(AckSource, self._trackers[name])
        from lakecrew.adapters.notify.pagerduty_acks import PagerDutyAcks

        cfg = self._config.channels[name]
        assert isinstance(cfg, nc.PagerDutyChannel) and cfg.api_token is not None
        token = self._secrets.get(cfg.api_token.scope, cfg.api_token.key)
        return PagerDutyAcks(name, token, url=cfg.api_url)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def items(self) -> Iterator[tuple[str, AckSource]]:  # type: ignore[override]
        """(name, source) pairs; a source that cannot be built is yielded as one that fails."""
        for name in self._names:
            try:
                yield name, self[name]
            except LakecrewError as exc:
                yield name, _Unreadable(name, exc)


class _Unreadable:
    def __init__(self, name: str, error: LakecrewError) -> None:
        self.name = name
        self._error = error

    def acks(self, fingerprints: Sequence[str], now: datetime) -> list[Ack]:
        raise self._error


def alert_pipeline(
    ctx: Context, *, after_send: Callable[..., None] | None = None
) -> AlertPipeline | None:
    """The project's alert pipeline; None when lakecrew.yaml has no `notifications:`."""
    config = ctx.config.notifications
    if config is None:
        return None
    book = ctx.ledger
    context = {w.name: (w.environment, w.project) for w in ctx.config.workspaces}
    return AlertPipeline(
        config,
        outbox_store(ctx),
        LazyChannels(config, notify_secrets(ctx), ctx.layout.root),
        context=context,
        findings=lambda: book.findings(None),
        escalate_after_hours=escalate_after_hours(ctx),
        after_send=after_send,
        ack_sources=LazyAcks(config, notify_secrets(ctx), ctx.layout.state_dir / "tickets.db"),
        digest_summary=None if ctx.config.assistant is None else _comms_summary(ctx),
    )


def _comms_summary(ctx: Context) -> Callable[[str], tuple[str, str]]:
    """day → (the Comms agent's digest summary, the model): `assistant:` is configured. The run
    is recorded in lakecrew.crew.agent_runs; a run that stops early is an error (the digest
    then goes out without a summary, and `outbox deliver` says why)."""

    def summarize(day: str) -> tuple[str, str]:
        from lakecrew.wiring.assist import agent_service

        run = agent_service(ctx).digest(day)
        if run.row.status != "success" or not run.row.answer.strip():
            raise Transient(
                f"the Comms agent stopped early ({run.row.status}) in run {run.row.run_id}",
                fix="raise assistant.max_steps / max_tokens in lakecrew.yaml",
            )
        return run.row.answer, run.row.model

    return summarize


def require_alerts(ctx: Context) -> AlertPipeline:
    alerts = alert_pipeline(ctx)
    if alerts is None:
        raise UsageError(
            "lakecrew.yaml has no notifications section",
            where=str(ctx.layout.config_path),
            fix="add notifications: {channels: ..., routes: ...} (see docs/alerts.md)",
        )
    return alerts
