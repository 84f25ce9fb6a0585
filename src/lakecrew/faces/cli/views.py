"""The JSON/text vocabulary of crew records, one set of keys across commands.

``rule_id``, ``resource_type``, ``resource_id``, ``workspace``, ``severity``, ``status``,
``owner``; states (``target``, ``before``, ``after``, ``evidence``) are nested objects, never
JSON text. `sweep`, `findings` and `actions` all build their records here.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from lakecrew.ports.ledger import ActionRow, FindingRow


def _obj(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def finding_view(row: FindingRow) -> dict[str, Any]:
    """A ledger finding: its columns, with ``evidence`` as an object."""
    data = asdict(row)
    data["evidence"] = _obj(data.pop("evidence_json"))
    return data


def action_view(row: ActionRow) -> dict[str, Any]:
    """A ledger action: ``resource_type`` (not kind), ``target``/``before``/``after`` objects."""
    data = asdict(row)
    data["resource_type"] = data.pop("kind")
    for key in ("target", "before", "after"):
        data[key] = _obj(data.pop(f"{key}_json"))
    return data


def sweep_view(sweep: dict[str, Any]) -> dict[str, Any]:
    """One workspace's sweep result (SweepResult.as_dict) in the shared vocabulary."""
    ws = sweep["workspace"]
    findings = [_renamed(f, ws, rule="rule_id") for f in sweep["findings"]]
    outcome = {a: "applied" for a in sweep["applied"]}
    outcome.update({f["action_id"]: "failed" for f in sweep["failed"]})
    plan = []
    for action in sweep["plan"]:
        row = _renamed(action, ws, rule="rule_id", kind="resource_type")
        row["status"] = outcome.get(row["action_id"], row["status"])  # what happened, not the plan
        plan.append(row)
    return {**sweep, "findings": findings, "plan": plan}


def _renamed(record: dict[str, Any], workspace: str, **names: str) -> dict[str, Any]:
    out = {**record, "workspace": workspace}
    for old, new in names.items():
        out[new] = out.pop(old)
    return out
