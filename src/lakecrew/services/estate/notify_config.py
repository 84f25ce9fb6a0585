"""lakecrew.yaml `notifications:` — channels, ticket trackers, routes, quiet hours, outbox.

    notifications:
      channels:
        data-ops:   {type: slack_api, channel: "#data-ops",
                     token: {scope: lakecrew, key: slack-bot-token}}
        oncall:     {type: pagerduty, routing_key: {scope: lakecrew, key: pagerduty-routing-key}}
        leads-mail: {type: email, host: smtp.example.org, sender: lakecrew@example.org,
                     to: [data-leads@example.org], username: lakecrew,
                     password: {scope: lakecrew, key: smtp-password}}
      trackers:
        jira: {type: jira, url: https://example.atlassian.net, email: bot@example.org,
               token: {scope: lakecrew, key: jira-token}, project: DATA, component: lakecrew}
      routes:
        - name: prod-critical
          match: {severity: [critical], environment: [prod]}
          channels: [oncall, data-ops]
          tickets: [jira]
          escalate_to: [leads-mail]
        - name: warnings
          match: {severity: [warning]}
          channels: [data-ops]
          digest: daily
      quiet_hours: {start: "20:00", end: "07:00", timezone: Africa/Lagos}

Secrets (webhook URLs, tokens, passwords, routing keys) are never written here: each names a
`{scope, key}` read from the SecretStore (local files/env, or a Databricks secret scope) at
send time. Unknown keys are rejected; every problem is reported with its file:line.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["critical", "warning", "info"]
_CRITICAL: tuple[Severity, ...] = ("critical",)
_HTTPS = re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?(/[A-Za-z0-9._~/-]*)?$")
_LOOPBACK = re.compile(r"^http://(?:127\.0\.0\.1|localhost|\[::1\]):\d+(/[A-Za-z0-9._~/-]*)?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def check_url(v: str) -> str:
    """https only; loopback http when LAKECREW_ALLOW_INSECURE_HOSTS=1 (tests)."""
    import os

    if _HTTPS.match(v) or (
        os.environ.get("LAKECREW_ALLOW_INSECURE_HOSTS") == "1" and _LOOPBACK.match(v)
    ):
        return v.rstrip("/")
    raise ValueError("must be an https:// URL with no query or credentials")


class SecretRef(_Strict):
    """A secret in the SecretStore: `{scope: lakecrew, key: slack-webhook}`."""

    scope: str = Field(min_length=1)
    key: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.scope}/{self.key}"


class _Channel(_Strict):
    rate_per_minute: int | None = Field(default=None, ge=1)


class SlackWebhookChannel(_Channel):
    type: Literal["slack_webhook"]
    url: SecretRef


class SlackApiChannel(_Channel):
    type: Literal["slack_api"]
    token: SecretRef
    channel: str = Field(min_length=1)
    base_url: str = "https://slack.com/api/"

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v) + "/"


class TeamsChannel(_Channel):
    type: Literal["teams_workflow"]
    url: SecretRef


class EmailChannel(_Channel):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretRef | None = None
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password (a SecretRef), or neither")
        return self


class PagerDutyChannel(_Channel):
    """Events API v2 with an integration's routing key; with `api_token` (a REST API key),
    incidents acknowledged or resolved in PagerDuty also stop a finding's escalation."""

    type: Literal["pagerduty"]
    routing_key: SecretRef
    url: str = "https://events.pagerduty.com/v2/enqueue"
    api_token: SecretRef | None = None
    api_url: str = "https://api.pagerduty.com"

    @field_validator("url", "api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: SecretRef
    signing_key: SecretRef


class FileChannel(_Channel):
    type: Literal["file"]
    path: str = ".lakecrew/outbox/notifications.jsonl"


class ConsoleChannel(_Channel):
    type: Literal["console"]


class SiemFileChannel(_Channel):
    """OCSF Detection Findings as JSON lines, for a SIEM forwarder to pick up."""

    type: Literal["siem_file"]
    path: str = ".lakecrew/outbox/siem.ocsf.jsonl"


class SplunkHecChannel(_Channel):
    """OCSF Detection Findings to a Splunk HTTP Event Collector."""

    type: Literal["splunk_hec"]
    url: str
    token: SecretRef
    index: str | None = None
    sourcetype: str = "ocsf:detection_finding"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)


Channel = Annotated[
    SlackWebhookChannel
    | SlackApiChannel
    | TeamsChannel
    | EmailChannel
    | PagerDutyChannel
    | WebhookChannel
    | FileChannel
    | ConsoleChannel
    | SiemFileChannel
    | SplunkHecChannel,
    Field(discriminator="type"),
]


class JiraTracker(_Strict):
    """Jira Cloud REST v3: Basic auth with an account e-mail and an API token."""

    type: Literal["jira"]
    url: str
    email: str = Field(min_length=3)
    token: SecretRef
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$")
    issue_type: str = "Task"
    component: str | None = None
    labels: list[str] = Field(default_factory=lambda: ["lakecrew"])
    done_transition: str = "Done"
    reopen_transition: str = "Reopen"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)


class ServiceNowTracker(_Strict):
    """ServiceNow Table API (incident): Basic auth; assignment group from the finding's owner."""

    type: Literal["servicenow"]
    url: str
    username: str = Field(min_length=1)
    password: SecretRef
    assignment_groups: dict[str, str] = Field(default_factory=dict)  # owner → group
    default_group: str | None = None
    resolved_state: str = "6"
    close_code: str = "Solved (Permanently)"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)


Tracker = Annotated[JiraTracker | ServiceNowTracker, Field(discriminator="type")]


class Match(_Strict):
    """Which findings a route takes; an absent key matches everything. `rule` takes globs."""

    severity: list[Severity] | None = None
    environment: list[Literal["dev", "qa", "prod"]] | None = None
    project: list[str] | None = None
    rule: list[str] | None = None
    owner: list[str] | None = None


class Route(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    match: Match = Field(default_factory=Match)
    channels: list[str] = Field(default_factory=list)
    tickets: list[str] = Field(default_factory=list)
    digest: Literal["none", "daily", "weekly"] = "none"
    escalate_to: list[str] = Field(default_factory=list)
    continue_matching: bool = Field(default=False, alias="continue")


class QuietHours(_Strict):
    """Non-critical messages wait until the end of the window (in `timezone`)."""

    start: time
    end: time
    timezone: str = "UTC"
    except_severity: list[Severity] = Field(default_factory=lambda: list(_CRITICAL))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name like Africa/Lagos)"
            ) from None
        return v


class OutboxConfig(_Strict):
    max_attempts: int = Field(default=8, ge=1, le=100)
    base_delay_seconds: float = Field(default=30, gt=0)
    max_delay_seconds: float = Field(default=3600, gt=0)


class NotifyConfig(_Strict):
    channels: dict[str, Channel] = Field(default_factory=dict)
    trackers: dict[str, Tracker] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    quiet_hours: QuietHours | None = None
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    # a `backend: databricks` workspace whose secret scopes hold the channel/tracker secrets;
    # None: the local SecretStore (LAKECREW_SECRET_* variables, .lakecrew/secrets/)
    secrets_workspace: str | None = None

    @model_validator(mode="after")
    def _references(self) -> NotifyConfig:
        for r in self.routes:
            for name in (*r.channels, *r.escalate_to):
                if name not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none defined"
                    raise ValueError(
                        f"route {r.name!r} names channel {name!r}, which is not under "
                        f"notifications.channels (defined: {known})"
                    )
            for name in r.tickets:
                if name not in self.trackers:
                    known = ", ".join(sorted(self.trackers)) or "none defined"
                    raise ValueError(
                        f"route {r.name!r} names tracker {name!r}, which is not under "
                        f"notifications.trackers (defined: {known})"
                    )
        return self

    def route(self, name: str) -> Route | None:
        return next((r for r in self.routes if r.name == name), None)
