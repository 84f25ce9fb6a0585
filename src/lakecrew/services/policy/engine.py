"""The rule engine: a pack, resources and an EvaluationContext in; findings out.

Filters are compiled once per (rule, environment) and cached on the `Engine`; a sweep builds one
Engine per pack and calls `evaluate` per workspace. Every resource is counted, even one that no
rule looks at, so a sweep can fail loudly when discovered != evaluated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lakecrew.core.errors import ConfigError
from lakecrew.core.filters import CompiledFilter, compile_filter
from lakecrew.core.findings import (
    EvaluationContext,
    Finding,
    Severity,
    fingerprint,
    mask_secrets,
)
from lakecrew.core.pack import Pack, Rule
from lakecrew.core.resources import Resource
from lakecrew.services.policy.checks import CHECKS, CheckFn


@dataclass(frozen=True)
class EvaluationResult:
    """Findings plus how many resources were evaluated (in total and per resource type)."""

    findings: list[Finding]
    evaluated: int
    evaluated_by_type: Mapping[str, int] = field(default_factory=dict)
    rules_applied: int = 0


class Engine:
    """Compiled view of a pack: rules indexed by resource type, filters compiled per env."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        self._by_type: dict[str, list[Rule]] = defaultdict(list)
        for rule in pack.rules:
            if rule.enabled:
                self._by_type[rule.resource_type].append(rule)
        self._compiled: dict[tuple[str, str], CompiledFilter] = {}
        self._checks: dict[str, tuple[CheckFn, Any]] = {}
        for rule in pack.rules:
            if rule.check is not None and rule.enabled:
                entry = CHECKS.get(rule.check.name, where=f"rule {rule.id}")
                params = entry.validate_params(rule.check.params, where=f"rule {rule.id}")
                self._checks[rule.id] = (entry.obj, params)

    def rules_for(self, resource_type: str, env: str) -> list[Rule]:
        """Enabled rules of a resource type that apply in `env`."""
        return [
            r
            for r in self._by_type.get(resource_type, [])
            if r.environments is None or env in r.environments
        ]

    def _filter(self, rule: Rule, env: str) -> CompiledFilter:
        key = (rule.id, env)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = compile_filter(rule.filter, self.pack.bindings(env))
            self._compiled[key] = compiled
        return compiled

    def check_rule(
        self, rule: Rule, res: Resource, ctx: EvaluationContext
    ) -> dict[str, Any] | None:
        """Evidence if `res` breaks `rule`, else None."""
        if rule.filter is not None:
            return self._filter(rule, ctx.environment).match(res.data, ctx.now)
        fn, params = self._checks[rule.id]
        return fn(res, params, ctx, self.pack)

    def evaluate(self, resources: Iterable[Resource], ctx: EvaluationContext) -> EvaluationResult:
        """Evaluate every resource of one workspace against the pack."""
        if ctx.environment not in self.pack.environments:
            raise ConfigError(
                f"workspace {ctx.workspace!r} has environment {ctx.environment!r}, "
                "which the pack does not define",
                fix=f"use one of: {', '.join(self.pack.environments)}",
            )
        findings: list[Finding] = []
        counts: dict[str, int] = defaultdict(int)
        applied = 0
        rules_cache: dict[str, list[Rule]] = {}
        for res in resources:
            counts[res.resource_type] += 1
            rules = rules_cache.get(res.resource_type)
            if rules is None:
                rules = rules_cache[res.resource_type] = self.rules_for(
                    res.resource_type, ctx.environment
                )
            for rule in rules:
                applied += 1
                evidence = self.check_rule(rule, res, ctx)
                if evidence is not None:
                    findings.append(make_finding(rule, res, evidence))
        return EvaluationResult(findings, sum(counts.values()), dict(counts), applied)


def make_finding(rule: Rule, res: Resource, evidence: Mapping[str, Any]) -> Finding:
    """A Finding for `res` breaking `rule`, with secret-looking evidence masked.

    A check may grade its finding: evidence `severity` (critical | warning | info) overrides the
    rule's severity (e.g. budget thresholds 50/80/100 % → info/warning/critical).
    """
    graded = evidence.get("severity")
    severity: Severity = rule.severity
    for level in ("critical", "warning", "info"):
        if graded == level:
            severity = level
    return Finding(
        rule_id=rule.id,
        sop_section=rule.sop_section,
        severity=severity,
        workspace=res.workspace,
        resource_type=res.resource_type,
        resource_id=res.resource_id,
        resource_name=res.name,
        evidence=mask_secrets(dict(evidence)),
        remediation=rule.remediation,
        fingerprint=fingerprint(res.workspace, res.resource_type, res.resource_id, rule.id),
        title=rule.title,
        action=rule.action.name if rule.action else None,
        min_phase=rule.min_phase,
    )


def evaluate(pack: Pack, resources: Iterable[Resource], ctx: EvaluationContext) -> EvaluationResult:
    """One-shot evaluation (builds an Engine; reuse an Engine across workspaces for speed)."""
    return Engine(pack).evaluate(resources, ctx)
