"""A stateful cluster-policies endpoint for DatabricksReplay (list / create / edit).

    policies = ClusterPoliciesHandler([{"policy_id": "P1", "name": "x", "definition": "{}"}],
                                      expected={"x": ({...definition...}, "description")})
    with DatabricksReplay(handlers=[policies]) as replay: ...

It answers like /api/2.0/policies/clusters/{list,create,edit}: `definition` must be a JSON
string; create refuses a taken name; edit needs an existing `policy_id` and `name`. When
`expected` maps a policy name to (definition dict, description), a create/edit whose body differs
answers 400, so a client sending a wrong body fails its test. `deny_writes` answers 403.
Every accepted write is kept in `writes` as (action, body).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lakecrew.testing.databricks_replay import Answer, Request, _json, error_body

BASE = "/api/2.0/policies/clusters/"


@dataclass
class ClusterPoliciesHandler:
    """Cluster policies held in memory, served over the REST paths the SDK calls."""

    policies: list[dict[str, Any]] = field(default_factory=list)
    expected: Mapping[str, tuple[Mapping[str, Any], str]] = field(default_factory=dict)
    deny_writes: bool = False
    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _next: int = 1

    def __init__(
        self,
        policies: Iterable[Mapping[str, Any]] = (),
        *,
        expected: Mapping[str, tuple[Mapping[str, Any], str]] | None = None,
        deny_writes: bool = False,
    ) -> None:
        self.policies = [dict(p) for p in policies]
        self.expected = dict(expected or {})
        self.deny_writes = deny_writes
        self.writes = []
        self._next = 1

    def __call__(self, req: Request) -> Answer | None:
        if not req.path.startswith(BASE):
            return None
        op = req.path[len(BASE) :]
        if op == "list" and req.method == "GET":
            return _json(200, {"policies": self.policies, "total_count": len(self.policies)})
        if req.method != "POST" or op not in ("create", "edit"):
            return None
        if self.deny_writes:
            return _bad(403, "PERMISSION_DENIED", "only workspace admins can manage policies")
        body = req.body if isinstance(req.body, dict) else {}
        problem = self._problem(op, body)
        if problem:
            return _bad(400, "INVALID_PARAMETER_VALUE", problem)
        self.writes.append((op, dict(body)))
        if op == "create":
            policy_id = f"POLICY{self._next:010d}"
            self._next += 1
            self.policies.append({**body, "policy_id": policy_id, "is_default": False})
            return _json(200, {"policy_id": policy_id})
        for p in self.policies:
            if p["policy_id"] == body["policy_id"]:
                p.clear()
                p.update(body)  # edit is a replace
        return _json(200, {})

    def _problem(self, op: str, body: Mapping[str, Any]) -> str | None:
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return "name is required"
        try:
            definition = json.loads(body.get("definition", ""))
        except (TypeError, ValueError):
            return "definition must be a JSON string"
        others = [p for p in self.policies if p.get("policy_id") != body.get("policy_id")]
        if any(p.get("name") == name for p in others):
            return f"a policy named {name} already exists"
        if op == "edit" and not any(p["policy_id"] == body.get("policy_id") for p in self.policies):
            return f"policy {body.get('policy_id')} does not exist"
        if name in self.expected:
            want_def, want_desc = self.expected[name]
            if definition != want_def or body.get("description") != want_desc:
                return f"body of {op} {name} does not match the expected policy"
        return None


def _bad(status: int, code: str, message: str) -> Answer:
    return _json(status, error_body(status, code, message))
