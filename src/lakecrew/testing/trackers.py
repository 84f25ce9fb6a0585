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
        tid = json.loads(r.body)["transition"]["id"]
        issue["status"] = {"31": "Done", "41": "To Do"}[tid]
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
        rec.update(json.loads(r.body))
        return _json(200, {"result": rec})
