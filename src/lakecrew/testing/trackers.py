"""Stateful Jira Cloud (REST v3) and ServiceNow (Table API) endpoints for `Receiver`.

They check the documented request shapes (Basic auth, ADF descriptions and comments, required
fields, transition bodies) and answer in the recorded shapes of tests/fixtures/notify
(201 `{id, key, self}`, 404 `errorMessages`, ServiceNow `{"result": {...}}`, …). `delete(key)`
removes an issue as a person would in the tracker (then 404).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from lakecrew.testing.receivers import Answer, Received

JIRA_404 = {
    "errorMessages": ["Issue does not exist or you do not have permission to see it."],
    "errors": {},
}
SN_404 = {
    "error": {
        "message": "No Record found",
        "detail": "Record doesn't exist or ACL restricts the record retrieval",
    },
    "status": "failure",
}


def _json(status: int, body: Any) -> Answer:
    return Answer(status, b"" if body is None else json.dumps(body).encode())


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def _is_adf(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("type") == "doc"
        and doc.get("version") == 1
        and isinstance(doc.get("content"), list)
        and all(b.get("type") == "paragraph" for b in doc["content"])
    )


class JiraState:
    """Issues keyed DATA-1, DATA-2, …; workflow: To Do →(Done 31)→ Done →(Reopen 41)→ To Do."""

    def __init__(self, auth: str, project: str = "DATA") -> None:
        self.auth = auth
        self.project = project
        self.issues: dict[str, dict[str, Any]] = {}
        self.seq = 10000

    def delete(self, key: str) -> None:
        self.issues.pop(key)

    def take(self, key: str, who: str, at: str = "2026-12-04T09:15:02.114+0000") -> None:
        """A person moves the issue to In Progress and assigns it to themselves."""
        self.issues[key].update(status="In Progress", assignee=who, changed=at)

    def _get(self, key: str) -> Answer:
        """`GET /rest/api/3/issue/{key}?fields=status,assignee,statuscategorychangedate`,
        in the shape of Jira Cloud's "Get issue" example (status with its statusCategory)."""
        issue = self.issues[key]
        category = {
            "To Do": ("new", 2, "To Do"),
            "In Progress": ("indeterminate", 4, "In Progress"),
            "Done": ("done", 3, "Done"),
        }[issue["status"]]
        who = issue.get("assignee")
        fields = {
            "status": {
                "self": "https://example.atlassian.net/rest/api/3/status/3",
                "name": issue["status"],
                "id": "3",
                "statusCategory": {"id": category[1], "key": category[0], "name": category[2]},
            },
            "assignee": {"accountId": "5b10a2844c20165700ede21g", "displayName": who}
            if who
            else None,
            "statuscategorychangedate": issue.get("changed", "2026-12-04T08:00:00.000+0000"),
        }
        return _json(200, {"id": "10001", "key": key, "fields": fields})

    def check(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
        if headers.get("Authorization") != self.auth:
            return "auth"
        if method == "POST" and path == "/rest/api/3/issue":
            f = json.loads(body).get("fields", {})
            if not f.get("summary") or f.get("project", {}).get("key") != self.project:
                return "summary and project.key are required"
            if not _is_adf(f.get("description")):
                return "description must be an ADF document"
        if (
            method == "POST"
            and path.endswith("/comment")
            and not _is_adf(json.loads(body).get("body"))
        ):
            return "comment body must be an ADF document"
        if method == "POST" and path.endswith("/transitions"):
            data = json.loads(body)
            if not str(data.get("transition", {}).get("id", "")).isdigit():
                return "transition.id is required"
            for change in data.get("update", {}).get("comment", []):
                if not _is_adf(change.get("add", {}).get("body")):
                    return "update.comment[].add.body must be an ADF document"
        return None

    def __call__(self, r: Received) -> Answer:
        if r.method == "POST" and r.path == "/rest/api/3/issue":
            self.seq += 1
            key = f"{self.project}-{self.seq - 10000}"
            self.issues[key] = {
                "fields": json.loads(r.body)["fields"],
                "status": "To Do",
                "comments": [],
            }
            return _json(
                201,
                {
                    "id": str(self.seq),
                    "key": key,
                    "self": f"https://example.atlassian.net/rest/api/3/issue/{self.seq}",
                },
            )
        got = re.fullmatch(r"/rest/api/3/issue/([A-Z]+-\d+)\?fields=.*", r.path)
        if r.method == "GET" and got:
            return self._get(got.group(1)) if got.group(1) in self.issues else _json(404, JIRA_404)
        m = re.fullmatch(r"/rest/api/3/issue/([A-Z]+-\d+)/(comment|transitions)", r.path)
        if not m or m.group(1) not in self.issues:
            return _json(404, JIRA_404)
        issue = self.issues[m.group(1)]
        if m.group(2) == "comment":
            issue["comments"].append(json.loads(r.body)["body"])
            return _json(
                201, {"id": str(len(issue["comments"])), "body": json.loads(r.body)["body"]}
            )
        if r.method == "GET":
            return _json(
                200,
                {
                    "expand": "transitions",
                    "transitions": [
                        {"id": "31", "name": "Done", "to": {"statusCategory": {"key": "done"}}},
                        {"id": "41", "name": "Reopen", "to": {"statusCategory": {"key": "new"}}},
                    ],
                },
            )
        body = json.loads(r.body)
        issue["status"] = {"31": "Done", "41": "To Do"}[body["transition"]["id"]]
        for change in body.get("update", {}).get("comment", []):
            issue["comments"].append(change["add"]["body"])
        return _json(204, None)


class ServiceNowState:
    """Incidents by sys_id; numbers INC0010001, …"""

    def __init__(self, auth: str) -> None:
        self.auth = auth
        self.incidents: dict[str, dict[str, Any]] = {}
        self.seq = 0

    def delete(self, number: str) -> None:
        sys_id = next(k for k, v in self.incidents.items() if v["number"] == number)
        self.incidents.pop(sys_id)

    def take(self, number: str, who: str, at: str = "2026-12-04 09:20:44") -> None:
        """A person sets the incident In Progress (state 2)."""
        rec = next(v for v in self.incidents.values() if v["number"] == number)
        rec.update(state="2", sys_updated_by=who, sys_updated_on=at)

    def check(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
        if headers.get("Authorization") != self.auth:
            return "auth"
        if method == "POST":
            data = json.loads(body)
            if not data.get("short_description") or not data.get("correlation_id"):
                return "short_description and correlation_id are required"
            if data.get("urgency") not in ("1", "2", "3"):
                return "urgency is 1, 2 or 3"
        return None

    def __call__(self, r: Received) -> Answer:
        path = r.path.split("?", 1)[0]
        if r.method == "POST" and path == "/api/now/table/incident":
            self.seq += 1
            sys_id = f"{self.seq:032x}"
            rec = {
                **json.loads(r.body),
                "sys_id": sys_id,
                "number": f"INC{10000 + self.seq:07d}",
                "state": "1",
            }
            self.incidents[sys_id] = rec
            return _json(201, {"result": rec})
        m = re.fullmatch(r"/api/now/table/incident/([0-9a-f]{32})", path)
        if not m or m.group(1) not in self.incidents:
            return _json(404, SN_404)
        rec = self.incidents[m.group(1)]
        if r.method == "GET":  # sysparm_fields: only the fields asked for, as the Table API does
            query = r.path.split("sysparm_fields=", 1)[-1].split("&", 1)[0]
            wanted = query.split(",") if "sysparm_fields=" in r.path else list(rec)
            return _json(200, {"result": {k: rec.get(k, "") for k in wanted}})
        change = json.loads(r.body)
        if change.get("work_notes"):  # a journal field: each write adds an entry
            rec.setdefault("journal", []).append(change["work_notes"])
        rec.update(change)
        return _json(200, {"result": rec})
