"""The agents' evaluation set: questions about an estate with exact answers computed from it.

Each `Question` has
- `reference(facts)`: the answer computed from the estate directly (SQL on the system tables
  and the ledger, lakecrew.yaml, the pack file, the SOP text) — never through the tools, never
  hard-coded, so the set follows whatever estate it is run on;
- `script(box)`: a fixed sequence of tool calls that reaches the same answer — the proof that
  the tools alone make every answer reachable (checked in tests: `script == reference`).

`score(answer, expected)` accepts an answer that contains the expected value (case, commas,
`$` and a trailing `.0` ignored). `lakecrew agent eval` asks the configured model every
question and reports the score with the model's name.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from lakecrew.ports.sql import SqlEngine
from lakecrew.services.assist.toolbox import ToolBox
from lakecrew.services.estate.config import EstateConfig
from lakecrew.services.policy.loader import LoadedPack

CENT = Decimal("0.01")
_PRICED = """
SELECT {group} AS k, sum(u.usage_quantity * lp.pricing.effective_list.default) AS cost
FROM system.billing.usage u
LEFT JOIN system.billing.list_prices lp
  ON u.sku_name = lp.sku_name AND u.cloud = lp.cloud AND u.usage_unit = lp.usage_unit
  AND lp.currency_code = 'USD' AND u.usage_end_time >= lp.price_start_time
  AND (lp.price_end_time IS NULL OR u.usage_end_time < lp.price_end_time)
WHERE u.usage_date >= :start AND u.usage_date < :end
GROUP BY 1
"""


def money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN))


@dataclass
class Facts:
    """The estate as the reference answers read it (no tool involved)."""

    sql: SqlEngine
    config: EstateConfig
    pack: LoadedPack
    now: datetime
    _costs: dict[tuple[str, int], dict[str, Decimal]] = field(default_factory=dict)

    def rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        return self.sql.fetch(query, params or None).as_dicts()

    def one(self, query: str, **params: Any) -> Any:
        return self.sql.fetch(query, params or None).scalar()

    @property
    def week(self) -> tuple[date, date]:
        end = self.now.date()
        return end - timedelta(days=7), end

    def cost_by(self, group: str, days: int = 7) -> dict[str, Decimal]:
        """List cost per `group` over the `days` days before today (one query, cached)."""
        if (group, days) not in self._costs:
            end = self.now.date()
            got = self.rows(_PRICED.format(group=group), start=end - timedelta(days=days), end=end)
            self._costs[group, days] = {str(r["k"]): Decimal(str(r["cost"] or 0)) for r in got}
        return self._costs[group, days]

    def ws_names(self) -> dict[str, str]:
        return {w.workspace_id or "": w.name for w in self.config.workspaces}

    def open_findings(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM lakecrew.crew.findings WHERE status = 'open'")


def _top(counts: dict[str, Any]) -> str:
    """The key with the largest value (ties: the smallest key)."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    reference: Callable[[Facts], str]
    script: Callable[[ToolBox], str]


def _d(box: ToolBox, tool: str, **args: Any) -> Any:
    out = box.call(tool, args)
    if "error" in out:
        raise AssertionError(f"{tool}: {out['error']}")
    return out["data"]


def _sql1(box: ToolBox, query: str) -> Any:
    return next(iter(_d(box, "run_sql", query=query)["rows"][0].values()))


def _alloc(box: ToolBox, dimension: str, period: str = "week") -> dict[str, str]:
    return {
        r["key"]: r["cost"]
        for r in _d(box, "cost_allocation", dimension=dimension, period=period)["rows"]
    }


def _top_alloc(box: ToolBox, dimension: str) -> str:
    rows = {
        k: Decimal(v)
        for k, v in _alloc(box, dimension).items()
        if not k.startswith(("__", "unregistered"))
    }
    return _top(rows)


def _findings_count(box: ToolBox, **flt: Any) -> str:
    return str(_d(box, "list_findings", status="open", limit=0, **flt)["count"])


def _rule_count(rule: str) -> Question:
    return Question(
        f"findings-{rule}",
        f"How many open findings of rule {rule} are there?",
        lambda f: str(sum(1 for r in f.open_findings() if r["rule_id"] == rule)),
        lambda b: _findings_count(b, rule_id=rule),
    )


def _ws_cost(ws: str) -> Question:
    return Question(
        f"cost-{ws}",
        f"What was the list cost in USD of workspace {ws} last week (the 7 days before today)?",
        lambda f: money(f.cost_by("u.workspace_id").get(f.config.workspace(ws).workspace_id or "", 0)),  # noqa: E501
        lambda b: _alloc(b, "workspace")[ws],
    )  # fmt: skip


def _anomaly(f: Facts) -> dict[str, Any]:
    import json

    rows = [r for r in f.open_findings() if r["rule_id"] == "cost.anomaly"]
    scored = []
    for r in rows:
        ev = json.loads(r["evidence_json"])
        scored.append((-(float(ev["observed"]) - float(ev["expected"])), r["fingerprint"], r, ev))
    return {"row": sorted(scored)[0][2], "evidence": sorted(scored)[0][3]}


def _worst_job(f: Facts) -> dict[str, Any]:
    since = f.now - timedelta(days=7)
    rows = f.rows(
        "SELECT r.job_id AS job_id, max(j.name) AS name, count(*) AS runs, "
        "count_if(r.result_state <> 'SUCCEEDED') AS failed "
        "FROM system.lakeflow.job_run_timeline r LEFT JOIN system.lakeflow.jobs j "
        "ON r.job_id = j.job_id AND r.workspace_id = j.workspace_id "
        "WHERE r.period_start_time >= :since AND r.result_state IS NOT NULL "
        "GROUP BY r.workspace_id, r.job_id",
        since=since,
    )
    return sorted(rows, key=lambda r: (-r["failed"], -r["runs"], r["job_id"]))[0]


def _rule(f: Facts, rule_id: str) -> Any:
    return next(r for r in f.pack.pack.rules if r.id == rule_id)


def _sop_title(number: str) -> str:
    for line in _sop_lines():
        m = re.match(r"^#+\s+\**" + re.escape(number) + r"\s+(.*?)\**\s*$", line)
        if m:
            return m.group(1).strip()
    raise LookupError(number)


def _sop_lines() -> list[str]:
    from importlib import resources

    raw = resources.files("lakecrew.services.assist").joinpath("sop/databricks-sop.md")
    return raw.read_text(encoding="utf-8").splitlines()


def _sop_script(b: ToolBox, number: str) -> str:
    return str(_d(b, "sop_section", query=number)["sections"][0]["title"])


def _ws_field(ws: str, field: str) -> Callable[[Facts], str]:
    return lambda f: str(getattr(f.config.workspace(ws), field))


def _overview_ws(b: ToolBox, ws: str) -> dict[str, Any]:
    return next(w for w in _d(b, "estate_overview")["workspaces"] if w["name"] == ws)


def questions() -> list[Question]:
    q: list[Question] = [
        Question("open-findings", "How many open findings are there?",
                 lambda f: str(len(f.open_findings())), _findings_count),
        Question("open-critical", "How many open critical findings are there?",
                 lambda f: str(sum(1 for r in f.open_findings() if r["severity"] == "critical")),
                 lambda b: _findings_count(b, severity="critical")),
        Question("open-warning", "How many open warning findings are there?",
                 lambda f: str(sum(1 for r in f.open_findings() if r["severity"] == "warning")),
                 lambda b: _findings_count(b, severity="warning")),
        _rule_count("cluster.tags_missing"),
        _rule_count("job.retries_missing"),
        _rule_count("sla.job_success_rate"),
        _rule_count("cost.anomaly"),
        Question("top-rule", "Which rule has the most open findings?",
                 lambda f: _top(Counter(r["rule_id"] for r in f.open_findings())),
                 lambda b: _top(_d(b, "list_findings", status="open", limit=0)["by_rule"])),
        Question("top-ws-findings", "Which workspace has the most open findings?",
                 lambda f: _top(Counter(r["workspace"] for r in f.open_findings())),
                 lambda b: _top(_d(b, "list_findings", status="open", limit=0)["by_workspace"])),
        Question("top-owner-critical", "Which owner has the most open critical findings?",
                 lambda f: _top(Counter(r["owner"] for r in f.open_findings()
                                        if r["severity"] == "critical")),
                 lambda b: _top(_d(b, "list_findings", status="open", severity="critical",
                                   limit=0)["by_owner"])),
        Question("biggest-anomaly", "Which cost series had the biggest cost anomaly (largest "
                 "excess over expected)? Give its resource id.",
                 lambda f: str(_anomaly(f)["row"]["resource_id"]),
                 lambda b: str(_d(b, "cost_anomalies", limit=1)["anomalies"][0]["resource_id"])),
        Question("biggest-anomaly-observed", "What was the observed cost in USD on the day of "
                 "the biggest cost anomaly?",
                 lambda f: money(_anomaly(f)["evidence"]["observed"]),
                 lambda b: money(_d(b, "cost_anomalies", limit=1)["anomalies"][0]["evidence"][
                     "observed"])),
        Question("worst-job", "Which job had the most failed runs in the last 7 days? Give "
                 "its name.",
                 lambda f: str(_worst_job(f)["name"]),
                 lambda b: str(_d(b, "pipeline_runs", limit=1)["top"][0]["job_name"])),
        Question("worst-job-failed", "How many runs of the job with the most failures failed "
                 "in the last 7 days?",
                 lambda f: str(_worst_job(f)["failed"]),
                 lambda b: str(_d(b, "pipeline_runs", limit=1)["top"][0]["failed"])),
        Question("jobs-ran", "How many distinct jobs ran in the last 7 days?",
                 lambda f: str(f.one(
                     "SELECT count(DISTINCT workspace_id || job_id) FROM "
                     "system.lakeflow.job_run_timeline WHERE period_start_time >= :s AND "
                     "result_state IS NOT NULL", s=f.now - timedelta(days=7))),
                 lambda b: str(_d(b, "pipeline_runs", limit=0)["jobs"])),
        Question("actions-total", "How many crew actions are recorded in the ledger?",
                 lambda f: str(f.one("SELECT count(*) FROM lakecrew.crew.actions")),
                 lambda b: str(_d(b, "list_actions", limit=0)["count"])),
        Question("actions-skipped", "How many crew actions were skipped?",
                 lambda f: str(f.one(
                     "SELECT count(*) FROM lakecrew.crew.actions WHERE status = 'skipped'")),
                 lambda b: str(_d(b, "list_actions", status="skipped", limit=0)["count"])),
        Question("open-tickets", "How many tickets are open?",
                 lambda f: str(f.one(
                     "SELECT count(*) FROM lakecrew.crew.tickets WHERE status = 'open'")),
                 lambda b: str(_d(b, "list_tickets", status="open", limit=0)["count"])),
        Question("week-total", "What was the total list cost in USD of the whole estate last "
                 "week (the 7 days before today)?",
                 lambda f: money(sum(f.cost_by("1").values(), Decimal(0))),
                 lambda b: str(_d(b, "cost_report", period="week")["total"])),
        Question("day-total", "What was the total list cost in USD of the estate yesterday?",
                 lambda f: money(sum(f.cost_by("1", days=1).values(), Decimal(0))),
                 lambda b: str(_d(b, "cost_report", period="day")["total"])),
        Question("top-ws-cost", "Which workspace cost the most last week?",
                 lambda f: f.ws_names()[_top({k: v for k, v in f.cost_by("u.workspace_id").items()
                                              if k in f.ws_names()})],
                 lambda b: _top_alloc(b, "workspace")),
        _ws_cost("malaria-prod-westafrica"),
        _ws_cost("lassa-prod-westafrica"),
        _ws_cost("immunization-dev-westafrica"),
        Question("top-project-cost", "Which project cost the most last week?",
                 lambda f: _top({k: v for k, v in f.cost_by("u.custom_tags['project']").items()
                                 if k != "None"}),
                 lambda b: _top_alloc(b, "project")),
        Question("top-sku-family", "Which SKU family (ALL_PURPOSE, JOBS, JOBS_SERVERLESS, "
                 "SQL_SERVERLESS, ...) cost the most last week?",
                 _top_sku,
                 lambda b: _top_alloc(b, "sku_family")),
        Question("workspaces", "How many workspaces are registered in lakecrew.yaml?",
                 lambda f: str(len(f.config.workspaces)),
                 lambda b: str(len(_d(b, "estate_overview")["workspaces"]))),
        Question("prod-workspaces", "How many production (prod) workspaces are registered?",
                 lambda f: str(sum(1 for w in f.config.workspaces if w.environment == "prod")),
                 lambda b: str(sum(1 for w in _d(b, "estate_overview")["workspaces"]
                                   if w["environment"] == "prod"))),
        Question("owner-lassa-prod", "Who owns workspace lassa-prod-westafrica?",
                 _ws_field("lassa-prod-westafrica", "owner"),
                 lambda b: str(_overview_ws(b, "lassa-prod-westafrica")["owner"])),
        Question("cc-immunization", "Which cost center does workspace "
                 "immunization-prod-westafrica belong to?",
                 _ws_field("immunization-prod-westafrica", "cost_center"),
                 lambda b: str(_overview_ws(b, "immunization-prod-westafrica")["cost_center"])),
        Question("phase-dev", "At which rollout phase does the crew run in dev workspaces?",
                 lambda f: str(f.config.rollout.phases.get("dev")),
                 lambda b: str(_overview_ws(b, "malaria-dev-westafrica")["phase"])),
        Question("budgets", "How many budgets are configured?",
                 lambda f: str(len(f.config.budgets)),
                 lambda b: str(len(_d(b, "estate_overview")["budgets"]))),
        Question("rule-idle-sop", "Which SOP section does rule cluster.idle come from?",
                 lambda f: _rule(f, "cluster.idle").sop_section,
                 lambda b: str(_d(b, "rule_explanation", rule_id="cluster.idle")["sop_section"])),
        Question("rule-secret-severity", "What is the severity of rule job.hardcoded_secret?",
                 lambda f: _rule(f, "job.hardcoded_secret").severity,
                 lambda b: str(_d(b, "rule_explanation", rule_id="job.hardcoded_secret")[
                     "severity"])),
        Question("rule-idle-action", "Which action does rule cluster.idle take?",
                 lambda f: _rule(f, "cluster.idle").action.name,
                 lambda b: str(_d(b, "rule_explanation", rule_id="cluster.idle")["action"][
                     "name"])),
        Question("rule-tags-phase", "From which rollout phase does rule cluster.tags_missing "
                 "act?",
                 lambda f: str(_rule(f, "cluster.tags_missing").min_phase),
                 lambda b: str(_d(b, "rule_explanation", rule_id="cluster.tags_missing")[
                     "min_phase"])),
        Question("job-rules", "How many SOP pack rules apply to jobs?",
                 lambda f: str(sum(1 for r in f.pack.pack.rules if r.resource_type == "jobs")),
                 lambda b: str(_d(b, "list_rules", resource_type="jobs")["count"])),
        Question("sop-3.2.4", "What is the title of SOP section 3.2.4?",
                 lambda f: _sop_title("3.2.4"), lambda b: _sop_script(b, "3.2.4")),
        Question("sop-1.2.2", "What is the title of SOP section 1.2.2?",
                 lambda f: _sop_title("1.2.2"), lambda b: _sop_script(b, "1.2.2")),
        Question("sop-1.9.4", "What is the title of SOP section 1.9.4?",
                 lambda f: _sop_title("1.9.4"), lambda b: _sop_script(b, "1.9.4")),
        Question("clusters", "How many clusters are in system.compute.clusters (distinct "
                 "cluster ids)?",
                 lambda f: str(f.one(
                     "SELECT count(DISTINCT cluster_id) FROM system.compute.clusters")),
                 lambda b: str(_sql1(b, "SELECT count(DISTINCT cluster_id) AS n FROM "
                                        "system.compute.clusters"))),
        Question("jobs", "How many distinct jobs are in system.lakeflow.jobs?",
                 lambda f: str(f.one(
                     "SELECT count(DISTINCT workspace_id || job_id) FROM system.lakeflow.jobs")),
                 lambda b: str(_sql1(b, "SELECT count(DISTINCT workspace_id || job_id) AS n "
                                        "FROM system.lakeflow.jobs"))),
    ]  # fmt: skip
    return q


def _top_sku(f: Facts) -> str:
    from lakecrew.services.finops.allocation import sku_family

    by: dict[str, Decimal] = {}
    for sku, cost in f.cost_by("u.sku_name").items():
        fam = sku_family(sku)
        by[fam] = by.get(fam, Decimal(0)) + cost
    return _top(by)


_NORMAL = re.compile(r"[\s$,`*]")


def normal(text: str) -> str:
    out = _NORMAL.sub("", text.lower())
    return out[:-2] if out.endswith(".0") else out


def score(answer: str, expected: str) -> bool:
    """Whether `answer` states `expected` (see module doc)."""
    want = normal(expected)
    got = normal(answer)
    if want in got:
        return True
    if re.fullmatch(r"-?\d+\.\d\d", want):  # money: 2925.82 also as 2,925.82 or 2925.8200
        return bool(re.search(re.escape(want) + r"(?!\d)", got))
    return False


@dataclass(frozen=True)
class EvalResult:
    qid: str
    question: str
    expected: str
    answer: str
    correct: bool
    state: str
    tool_calls: int
    error: str | None = None


def evaluate(
    ask: Callable[[str], tuple[str, str, int]], facts: Facts, only: int | None = None
) -> list[EvalResult]:
    """Ask every question (`ask(question) -> (answer, state, tool calls)`), score each against
    its reference; a failed run (budget, model error) counts as wrong, with its error."""
    from lakecrew.core.errors import LakecrewError

    out = []
    for q in questions()[:only]:
        expected = q.reference(facts)
        try:
            answer, state, calls = ask(q.text)
            error = None
        except LakecrewError as e:
            answer, state, calls, error = "", "failed", 0, e.one_line()
        ok = state == "success" and score(answer, expected)
        out.append(EvalResult(q.qid, q.text, expected, answer, ok, state, calls, error))
    return out
