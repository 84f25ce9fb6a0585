"""Jira Cloud (REST v3) and ServiceNow (Table API, incident) behind the TicketSystem port,
upserted by finding fingerprint through a local index (ticket_index.py).

Written over requests by hand, on purpose:
- Jira: the `jira` package speaks REST v2 by default, posts comments as plain strings (v3 wants
  Atlassian Document Format, so they fail there) and re-reads every issue it creates (a second
  request per create); three documented calls do not need it.
- ServiceNow: `pysnow` is unmaintained since 2021; the Table API is plain JSON over HTTPS.

Per finding: new → one create; unchanged and open → nothing; changed → one comment (Jira) or
PATCH of the description (ServiceNow); resolved → one transition carrying its comment
(`update.comment.add`; Jira transition ids are read once per run) or PATCH state (ServiceNow);
back after being resolved → reopen. A ticket deleted
in the tracker (404) is created again. Failures raise the project's errors: 401/403
PermissionDenied, 400 DataError (the tracker's own message), 429/5xx/timeouts Transient;
messages never carry the token.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

import requests
from pydantic import SecretStr

from lakecrew.adapters.notify.http import TIMEOUT
from lakecrew.adapters.notify.ticket_index import Indexed, TicketIndex
from lakecrew.core.errors import DataError, NotFound, PermissionDenied, Transient
from lakecrew.ports.outbox import Ack
from lakecrew.ports.tickets import Ticket, TicketComment, TicketDraft


class Gone(NotFound):
    """The remote ticket no longer exists (deleted in the tracker)."""


def digest(draft: TicketDraft) -> str:
    return hashlib.sha256(f"{draft.severity}\x1f{draft.title}\x1f{draft.body}".encode()).hexdigest()


def adf(text: str) -> dict[str, Any]:
    """Atlassian Document Format: one paragraph per line block, text nodes only (no markup is
    interpreted in text nodes, so names and evidence cannot inject links or mentions)."""
    blocks = text.split("\n\n") or [""]
    content = []
    for block in blocks:
        lines = block.split("\n")
        nodes: list[dict[str, Any]] = []
        for i, line in enumerate(lines):
            if i:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


class _Remote:
    """Shared upsert logic over four tracker operations."""

    name = "remote"

    def __init__(self, index: TicketIndex, base_url: str, auth: tuple[str, SecretStr]) -> None:
        self.index = index
        self.base = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = (auth[0], auth[1].get_secret_value())
        self.session.headers.update({"Accept": "application/json"})
        self.requests = 0
        self._meta: dict[str, TicketDraft] = {}

    # --- the four operations a tracker implements
    def _create(self, d: TicketDraft) -> tuple[str, str]:
        raise NotImplementedError

    def _comment(self, item: Indexed, d: TicketDraft, text: str) -> None:
        raise NotImplementedError

    def _resolve(self, item: Indexed, resolution: str) -> None:
        raise NotImplementedError

    def _note(self, item: Indexed, text: str) -> None:
        """A comment on the ticket (Jira comment; ServiceNow work note)."""
        raise NotImplementedError

    def _reopen(self, item: Indexed, d: TicketDraft) -> None:
        raise NotImplementedError

    def call(
        self, method: str, path: str, body: Any = None, ok: Sequence[int] = (200, 201, 204)
    ) -> Any:
        self.requests += 1
        what = f"{self.name} {method} {path.split('?', 1)[0]}"
        try:
            resp = self.session.request(method, self.base + path, json=body, timeout=TIMEOUT)
        except requests.Timeout:
            raise Transient(
                f"{what}: no answer within {TIMEOUT[1]:.0f}s", fix="retried on the next sweep"
            ) from None
        except requests.RequestException as exc:
            raise Transient(
                f"{what}: unreachable ({type(exc).__name__})", fix="retried on the next sweep"
            ) from None
        if resp.status_code in ok:
            return resp.json() if resp.content else {}
        detail = " ".join(resp.text.split())[:300]
        if resp.status_code == 404:
            raise Gone(f"{what}: 404 {detail}")
        if resp.status_code in (401, 403):
            raise PermissionDenied(
                f"{what}: HTTP {resp.status_code} {detail}",
                fix=f"check the {self.name} user and its token in the SecretStore",
            )
        if resp.status_code == 429 or resp.status_code >= 500:
            raise Transient(
                f"{what}: HTTP {resp.status_code} {detail}", fix="retried on the next sweep"
            )
        raise DataError(
            f"{what}: HTTP {resp.status_code} {detail}",
            fix=f"check the {self.name} settings in lakecrew.yaml (project, issue type, fields)",
        )

    # --- TicketSystem
    def upsert(self, draft: TicketDraft, at: datetime) -> Ticket:
        self._meta[draft.fingerprint] = draft
        item = self.index.get(draft.fingerprint)
        dg = digest(draft)
        if item is None:
            return self._new(draft, at, dg)
        try:
            if item.status == "resolved":
                self._reopen(item, draft)
            elif item.digest != dg:
                self._comment(item, draft, "The finding changed:\n\n" + draft.body)
            else:
                return self._ticket(item, draft)
        except Gone:
            return self._new(draft, at, dg)
        item = Indexed(item.fingerprint, item.key, item.remote_id, "open", dg, item.created_at, at)
        self.index.put(item)
        return self._ticket(item, draft)

    def upsert_many(self, drafts: Sequence[TicketDraft], at: datetime) -> list[Ticket]:
        return [self.upsert(d, at) for d in drafts]

    def resolve(self, fingerprint: str, resolution: str, at: datetime) -> Ticket | None:
        item = self.index.get(fingerprint)
        if item is None or item.status != "open":
            return None
        with contextlib.suppress(Gone):  # deleted in the tracker: nothing left to close
            self._resolve(item, resolution)
        done = Indexed(
            item.fingerprint, item.key, item.remote_id, "resolved", item.digest, item.created_at, at
        )
        self.index.put(done)
        return self._ticket(
            done, self._meta.get(fingerprint), resolved_at=at, resolution=resolution
        )

    # --- AckSource: a ticket someone took in hand stops the finding's escalation
    def _taken(self, item: Indexed) -> tuple[str, str, str] | None:
        """(who, when as ISO text, state) when the ticket left its initial state, else None."""
        raise NotImplementedError

    def acks(self, fingerprints: Sequence[str], now: datetime) -> list[Ack]:
        out = []
        for fp in fingerprints:
            item = self.index.get(fp)
            if item is None or item.status != "open":
                continue
            try:
                taken = self._taken(item)
            except Gone:
                continue  # deleted in the tracker: nobody holds it
            if taken is not None:
                who, when, state = taken
                note = f"{self.name} {item.key} {state}"
                out.append(Ack(fp, who or self.name, self.name, _time(when, now), note))
        return out

    def comment(self, comment: TicketComment) -> str:
        """One request per new comment_id; a comment already posted costs none. A ticket
        deleted in the tracker raises NotFound (Gone)."""
        item = self.index.get(comment.fingerprint)
        if item is None:
            raise NotFound(
                f"{self.name} holds no ticket for finding {comment.fingerprint[:12]}",
                fix="the next sweep creates it",
            )
        if any(c.comment_id == comment.comment_id for c in self.index.comments(item.fingerprint)):
            return item.key
        self._note(item, comment.text)
        self.index.put_comment(comment)
        return item.key

    def comments(self, fingerprint: str) -> list[TicketComment]:
        return self.index.comments(fingerprint)

    def get(self, fingerprint: str) -> Ticket | None:
        item = self.index.get(fingerprint)
        return None if item is None else self._ticket(item, self._meta.get(fingerprint))

    def states(self, fingerprints: Sequence[str]) -> dict[str, str]:
        items = (self.index.get(fp) for fp in fingerprints)
        return {i.fingerprint: i.status for i in items if i is not None}

    def list(self, workspace: str | None = None) -> list[Ticket]:
        out = [self._ticket(i, self._meta.get(i.fingerprint)) for i in self.index.all()]
        return [t for t in out if workspace is None or t.workspace in (workspace, "")]

    def _new(self, draft: TicketDraft, at: datetime, dg: str) -> Ticket:
        key, remote_id = self._create(draft)
        item = Indexed(draft.fingerprint, key, remote_id, "open", dg, at, at)
        self.index.put(item)
        return self._ticket(item, draft)

    def _ticket(
        self,
        item: Indexed,
        d: TicketDraft | None,
        *,
        resolved_at: datetime | None = None,
        resolution: str | None = None,
    ) -> Ticket:
        return Ticket(
            key=item.key,
            fingerprint=item.fingerprint,
            workspace=d.workspace if d else "",
            rule_id=d.rule_id if d else "",
            resource_id=d.resource_id if d else "",
            severity=d.severity if d else "",
            owner=d.owner if d else "",
            title=d.title if d else "",
            body=d.body if d else "",
            status="resolved" if item.status == "resolved" else "open",
            created_at=item.created_at,
            updated_at=item.updated_at,
            resolved_at=resolved_at,
            resolution=resolution,
        )


class JiraTracker(_Remote):
    """Jira Cloud REST v3 with Basic auth (account e-mail + API token)."""

    name = "jira"

    def __init__(
        self,
        index: TicketIndex,
        *,
        url: str,
        email: str,
        token: SecretStr,
        project: str,
        issue_type: str = "Task",
        component: str | None = None,
        labels: Sequence[str] = ("lakecrew",),
        done: str = "Done",
        reopen: str = "Reopen",
    ) -> None:
        super().__init__(index, url, (email, token))
        self.project = project
        self.issue_type = issue_type
        self.component = component
        self.labels = list(labels)
        self.done = done
        self.reopen = reopen
        self._transitions: dict[str, str] = {}

    def _create(self, d: TicketDraft) -> tuple[str, str]:
        fields: dict[str, Any] = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": d.title.replace("\n", " ")[:255],
            "description": adf(d.body),
            "labels": [*self.labels, f"lakecrew-fp-{d.fingerprint[:32]}", f"lakecrew-{d.severity}"],
        }
        if self.component:
            fields["components"] = [{"name": self.component}]
        answer = self.call("POST", "/rest/api/3/issue", {"fields": fields}, ok=(201,))
        return str(answer["key"]), str(answer["id"])

    def _comment(self, item: Indexed, d: TicketDraft, text: str) -> None:
        self._note(item, text)

    def _note(self, item: Indexed, text: str) -> None:
        self.call("POST", f"/rest/api/3/issue/{item.key}/comment", {"body": adf(text)}, ok=(201,))

    def _transition(self, item: Indexed, name: str, comment: str) -> None:
        """One POST: the transition with its comment (`update.comment.add`, ADF)."""
        tid = self._transitions.get(name)
        if tid is None:
            answer = self.call("GET", f"/rest/api/3/issue/{item.key}/transitions")
            for t in answer.get("transitions", []):
                self._transitions[str(t["name"])] = str(t["id"])
            tid = self._transitions.get(name)
            if tid is None:
                have = ", ".join(sorted(self._transitions)) or "none"
                raise DataError(
                    f"jira issue {item.key} has no transition {name!r} (has: {have})",
                    fix="set done_transition / reopen_transition in lakecrew.yaml",
                )
        body = {
            "transition": {"id": tid},
            "update": {"comment": [{"add": {"body": adf(comment)}}]},
        }
        self.call("POST", f"/rest/api/3/issue/{item.key}/transitions", body, ok=(204,))

    def _resolve(self, item: Indexed, resolution: str) -> None:
        self._transition(item, self.done, resolution)

    def _taken(self, item: Indexed) -> tuple[str, str, str] | None:
        """Taken in hand: the status category left "new" (In Progress, or Done by a person)."""
        path = f"/rest/api/3/issue/{item.key}?fields=status,assignee,statuscategorychangedate"
        fields = self.call("GET", path).get("fields", {})
        status = fields.get("status") or {}
        if (status.get("statusCategory") or {}).get("key", "new") == "new":
            return None
        who = (fields.get("assignee") or {}).get("displayName", "")
        return str(who), str(fields.get("statuscategorychangedate", "")), str(status.get("name"))

    def _reopen(self, item: Indexed, d: TicketDraft) -> None:
        self._transition(item, self.reopen, "The finding is back:\n\n" + d.body)


class ServiceNowTracker(_Remote):
    """ServiceNow Table API incidents with Basic auth; assignment group from the owner."""

    name = "servicenow"
    URGENCY: ClassVar[dict[str, str]] = {"critical": "1", "warning": "2", "info": "3"}

    def __init__(
        self,
        index: TicketIndex,
        *,
        url: str,
        username: str,
        password: SecretStr,
        groups: Callable[[str], str | None],
        resolved_state: str = "6",
        close_code: str = "Solved (Permanently)",
    ) -> None:
        super().__init__(index, url, (username, password))
        self.groups = groups
        self.resolved_state = resolved_state
        self.close_code = close_code

    def _create(self, d: TicketDraft) -> tuple[str, str]:
        body: dict[str, Any] = {
            "short_description": d.title.replace("\n", " ")[:160],
            "description": _sn_text(d.body),
            "urgency": self.URGENCY.get(d.severity, "3"),
            "impact": self.URGENCY.get(d.severity, "3"),
            "category": "software",
            "correlation_id": f"lakecrew:{d.fingerprint}",
            "correlation_display": "lakecrew",
        }
        group = self.groups(d.owner)
        if group:
            body["assignment_group"] = group
        answer = self.call(
            "POST",
            "/api/now/table/incident?sysparm_input_display_value=true"
            "&sysparm_exclude_reference_link=true",
            body,
            ok=(201,),
        )
        result = answer["result"]
        return str(result["number"]), str(result["sys_id"])

    def _patch(self, item: Indexed, body: dict[str, Any]) -> None:
        self.call(
            "PATCH",
            f"/api/now/table/incident/{item.remote_id}?sysparm_exclude_reference_link=true",
            body,
            ok=(200,),
        )

    def _comment(self, item: Indexed, d: TicketDraft, text: str) -> None:
        self._patch(
            item,
            {
                "description": _sn_text(d.body),
                "work_notes": _sn_text(text),
                "urgency": self.URGENCY.get(d.severity, "3"),
            },
        )

    def _note(self, item: Indexed, text: str) -> None:
        self._patch(item, {"work_notes": _sn_text(text)})

    def _resolve(self, item: Indexed, resolution: str) -> None:
        self._patch(
            item,
            {
                "state": self.resolved_state,
                "close_code": self.close_code,
                "close_notes": _sn_text(resolution),
            },
        )

    def _taken(self, item: Indexed) -> tuple[str, str, str] | None:
        """Taken in hand: the state left New (1): In Progress, On Hold, Resolved, Closed."""
        rec = self.call(
            "GET",
            f"/api/now/table/incident/{item.remote_id}?sysparm_fields=number,state,"
            "sys_updated_on,sys_updated_by&sysparm_display_value=false"
            "&sysparm_exclude_reference_link=true",
        ).get("result", {})
        state = str(rec.get("state", "1"))
        if state in ("1", ""):
            return None
        when = str(rec.get("sys_updated_on", "")).replace(" ", "T") + "+00:00"  # UTC
        return str(rec.get("sys_updated_by", "")), when, f"state {state}"

    def _reopen(self, item: Indexed, d: TicketDraft) -> None:
        self._patch(
            item,
            {
                "state": "2",
                "description": _sn_text(d.body),
                "work_notes": "The finding is back (lakecrew).",
            },
        )


def _time(text: str, default: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return default
    return parsed if parsed.tzinfo is not None else default


def _sn_text(text: str) -> str:
    """Journal fields render `[code]…[/code]` as HTML: neutralise the marker in our text."""
    return text.replace("[code]", "[ code]").replace("[/code]", "[/ code]")
