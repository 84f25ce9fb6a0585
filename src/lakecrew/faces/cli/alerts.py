"""`lakecrew outbox`, `lakecrew notify test ROUTE` and `lakecrew ack FINGERPRINT`.

    lakecrew outbox                      # pending / delivered / dead per channel, dead letters
    lakecrew outbox deliver              # queue due digests and escalations, send what is due
    lakecrew outbox retry [--id ID]      # dead letters back to pending (after fixing the cause)
    lakecrew notify test prod-critical   # a labelled test message to every channel of a route
    lakecrew ack FINGERPRINT --by NAME   # stop the escalation of a critical finding

Exit code 1 when something could not be delivered (`deliver`, `notify test`), so a scheduler
notices; the outbox keeps every message for the next attempt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Annotated, Any

import typer

from lakecrew.core.errors import NotFound, Transient
from lakecrew.faces.cli.console import Result, emit
from lakecrew.faces.cli.crew import NowOpt, _context
from lakecrew.faces.cli.options import DebugOpt, OutputOpt, ProjectOpt, epilog, state_of
from lakecrew.faces.cli.render import Col, Out

outbox_app = typer.Typer(
    help="The durable outbox of notifications: inspect, deliver, retry.",
    epilog=epilog("lakecrew outbox", "lakecrew outbox --output json"),
    invoke_without_command=True,
    no_args_is_help=False,
)
notify_app = typer.Typer(help="Notification routes.", no_args_is_help=True)


@contextmanager
def _alerts(project: Any, now: str | None = None) -> Iterator[tuple[Any, Any]]:
    """The project's Context and alert pipeline; the Context is closed on leaving."""
    from lakecrew.wiring.notify import require_alerts

    with _context(project, writable=True, now=now) as lc:
        yield lc, require_alerts(lc)


def _summary(store: Any) -> dict[str, Any]:
    msgs = store.messages()
    counts = Counter((m.channel, m.status) for m in msgs)
    channels = sorted({m.channel for m in msgs})
    return {
        "channels": [
            {
                "channel": ch,
                "pending": counts[(ch, "pending")],
                "delivered": counts[(ch, "delivered")],
                "dead": counts[(ch, "dead")],
            }
            for ch in channels
        ],
        "dead_letters": [
            {
                "id": m.message_id,
                "channel": m.channel,
                "kind": m.kind,
                "attempts": m.attempts,
                "reason": m.last_error,
            }
            for m in msgs
            if m.status == "dead"
        ],
        "pending": [
            {
                "id": m.message_id,
                "channel": m.channel,
                "attempts": m.attempts,
                "next_attempt_at": m.next_attempt_at,
                "last_error": m.last_error,
            }
            for m in msgs
            if m.status == "pending"
        ],
    }


def _render_summary(out: Out, result: Result) -> None:
    data = result.items[0]
    columns = (Col("channel"), Col("pending"), Col("delivered"), Col("dead"))
    out.table(columns, data["channels"], title="outbox")
    for d in data["dead_letters"]:
        out.line(f"dead {d['id']} ({d['channel']}, {d['attempts']} attempts): {d['reason']}")


@outbox_app.callback()
def outbox(
    ctx: typer.Context,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show the outbox: counts per channel and status, every dead letter with its reason."""
    if ctx.invoked_subcommand is not None:
        return
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _alerts(state.project) as (_, alerts):
        emit(state, Result("outbox", [_summary(alerts.store)]), _render_summary)


def _drain_result(state: Any, report: Any, extra: dict[str, Any]) -> None:
    data = {**extra, **report.as_dict()}
    emit(
        state,
        Result("outbox_delivery", [data]),
        lambda o, r: o.line(
            f"delivered {r.items[0]['delivered']}, failed {r.items[0]['failed']} (will retry), "
            f"dead {r.items[0]['dead']}, deferred {r.items[0]['deferred']}; "
            f"{r.items[0]['acknowledged']} acknowledged in PagerDuty or a tracker"
        ),
    )
    if report.summary_errors:
        raise Transient(
            f"daily digest sent without the agent's summary: {'; '.join(report.summary_errors)}",
            where="assistant: (lakecrew.yaml)",
            fix="the deterministic digest went out; check the model endpoint "
            "(`lakecrew agent digest` runs the Comms agent alone)",
        )
    if report.ack_errors:
        raise Transient(
            f"acknowledgements not read: {'; '.join(report.ack_errors)}",
            where="notifications (PagerDuty api_token / trackers)",
            fix="their findings escalate as if unacknowledged; fix the token or the tracker, "
            "then rerun `lakecrew outbox deliver`",
        )
    if report.failed or report.dead:
        reasons = "; ".join(f"{k}: {v}" for k, v in sorted(report.errors.items()))
        raise Transient(
            f"{report.failed + report.dead} message(s) not delivered ({reasons})",
            where="outbox",
            fix="failed messages are retried with backoff; see `lakecrew outbox`, fix the "
            "channel, then `lakecrew outbox retry` for dead letters",
        )


@outbox_app.command(
    "deliver",
    epilog=epilog(
        "lakecrew outbox deliver",
        exits="0 everything due was delivered; 1 a message failed (retried later) or is dead",
    ),
)
def deliver(
    ctx: typer.Context,
    now: NowOpt = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Queue due digests and escalations, then send every message that is due."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _alerts(state.project, now) as (lc, alerts):
        _drain_result(state, alerts.tick(lc.clock.now()), {})


@outbox_app.command(
    "retry", epilog=epilog("lakecrew outbox retry", "lakecrew outbox retry --id MESSAGE_ID")
)
def retry(
    ctx: typer.Context,
    message_id: Annotated[
        list[str] | None, typer.Option("--id", help="Only these dead letters (repeatable).")
    ] = None,
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Put dead letters back in the queue (attempts reset); `deliver` sends them."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _alerts(state.project) as (lc, alerts):
        dead = alerts.store.messages("dead")
        wanted = set(message_id or [])
        unknown = wanted - {m.message_id for m in dead}
        if unknown:
            raise NotFound(f"no dead letter {sorted(unknown)[0]!r}", fix="see `lakecrew outbox`")
        now = lc.clock.now()
        back = [m for m in dead if not wanted or m.message_id in wanted]
        for m in back:
            alerts.store.update(replace(m, status="pending", attempts=0, next_attempt_at=now))
        emit(
            state,
            Result("outbox_retry", [{"requeued": [m.message_id for m in back]}]),
            lambda o, r: o.line(f"requeued {len(r.items[0]['requeued'])} message(s)"),
        )


@notify_app.command(
    "test",
    epilog=epilog(
        "lakecrew notify test prod-critical",
        exits="0 delivered to every channel; 1 a channel failed; 2 unknown route or usage",
    ),
)
def notify_test(
    ctx: typer.Context,
    route: Annotated[str, typer.Argument(help="A route name from lakecrew.yaml.")],
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Send a labelled test message to every channel (and escalation channel) of ROUTE."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _alerts(state.project) as (lc, alerts):
        channels, report = alerts.test(route, lc.clock.now())
        _drain_result(state, report, {"route": route, "channels": channels})


def ack(
    ctx: typer.Context,
    fingerprint: Annotated[str, typer.Argument(help="The finding's fingerprint (or a prefix).")],
    by: Annotated[str, typer.Option("--by", help="Who takes the finding in hand.")],
    note: Annotated[str, typer.Option(help="Optional note.")] = "",
    project: ProjectOpt = None,
    output: OutputOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Acknowledge a finding: its escalation stops (SOP 1.8.4)."""
    state = state_of(ctx, project=project, output=output, debug=debug)
    with _alerts(state.project) as (lc, alerts):
        rows = [r for r in lc.ledger.findings(None) if r.fingerprint.startswith(fingerprint)]
        fps = sorted({r.fingerprint for r in rows})
        if len(fps) != 1:
            raise NotFound(
                f"{len(fps)} findings match {fingerprint!r}",
                fix="give the full fingerprint (see `lakecrew findings --output json`)",
            )
        done = alerts.ack(fps[0], by, lc.clock.now(), note)
        emit(
            state,
            Result("ack", [{"fingerprint": done.fingerprint, "by": done.by, "at": done.at}]),
            lambda o, r: o.line(f"acknowledged {r.items[0]['fingerprint']} by {r.items[0]['by']}"),
        )


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(notify_app, name="notify")
    app.command("ack", epilog=epilog("lakecrew ack fe8d10a209c9 --by 'on-call: A. Bello'"))(ack)
