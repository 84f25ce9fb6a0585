"""lakecrew's own checks over a Databricks Asset Bundle, per target (re-exported by bundle.py).

For every target of `databricks.yml` the bundle is resolved the way the Databricks CLI does for
what matters here: `include` globs, top-level `resources` merged with the target's (`tasks` and
`job_clusters` merged by key), variables (defaults, target values, then `overrides`) and
`${bundle.target}` / `${bundle.name}` substituted. Then:

- every job goes through the rule engine as a `jobs` resource (`{"job_id", "settings"}`, with the
  target's `run_as`) in the target's environment;
- every job cluster goes through the engine as a `clusters` resource (cluster_source JOB) and
  through the cluster policies `export(pack, env)` produces (`evaluate_policies`);
- production targets must run as a service principal (SOP 1.5.3: deployments by pipelines, not
  people), and the prod target must use mode production.

Lookup variables (e.g. the cluster policy id) and references the CLI resolves at deploy time
(`${workspace.file_path}`) stay literal and are listed in `unresolved`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lakecrew.core.errors import DataError
from lakecrew.core.findings import EvaluationContext
from lakecrew.core.pack import Pack
from lakecrew.core.resources import RESOURCE_TYPES
from lakecrew.services.deploy.schedule import cron_problem, timezone_problem
from lakecrew.services.estate.yamlpos import ConfigProblems, load_yaml
from lakecrew.services.policy.cluster_policy import SPOT_KINDS, evaluate_policies, export
from lakecrew.services.policy.engine import Engine

REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")
KEYED_LISTS = {"tasks": "task_key", "job_clusters": "job_cluster_key"}


@dataclass(frozen=True)
class BundleProblem:
    """One thing of one target that lakecrew's checks refuse."""

    target: str
    resource: str
    rule: str
    message: str

    def one_line(self) -> str:
        return f"[{self.target}] {self.resource}: {self.rule} — {self.message}"


@dataclass(frozen=True)
class BundleCheck:
    """Problems (none = the bundle passes), what was checked per target, literal references."""

    problems: tuple[BundleProblem, ...]
    checked: Mapping[str, int] = field(default_factory=dict)
    unresolved: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": dict(self.checked),
            "unresolved": list(self.unresolved),
            "problems": [p.__dict__ for p in self.problems],
        }


def _load(files: Mapping[str, str], path: str) -> Any:
    """One bundle file, parsed as lakecrew's own config files are (yamlpos.load_yaml: syntax,
    duplicate keys and dates that do not exist reported at their line), as a DataError."""
    try:
        return load_yaml(files[path], source=path).data or {}
    except ConfigProblems as exc:
        first = exc.problems[0]
        raise DataError(first.what, where=first.where, fix=first.fix) from None


def merge(base: Any, over: Any) -> Any:
    """Deep merge as bundle targets do: maps merged, tasks/job_clusters merged by key."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for key, value in over.items():
            if key in KEYED_LISTS and isinstance(value, list) and isinstance(out.get(key), list):
                out[key] = _merge_keyed(out[key], value, KEYED_LISTS[key])
            else:
                out[key] = merge(out.get(key), value) if key in out else value
        return out
    return over


def _merge_keyed(base: list[Any], over: list[Any], key: str) -> list[Any]:
    out = list(base)
    for item in over:
        idx = next(
            (
                i
                for i, b in enumerate(out)
                if isinstance(b, Mapping) and b.get(key) == item.get(key)
            ),
            None,
        )
        if idx is None:
            out.append(item)
        else:
            out[idx] = merge(out[idx], item)
    return out


def _variables(
    root: Mapping[str, Any], target: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in (root.get("variables") or {}).items():
        spec = raw if isinstance(raw, Mapping) else {"default": raw}
        if "default" in spec:
            values[name] = spec["default"]
        elif "lookup" in spec:
            values[name] = _lookup_marker(spec["lookup"])
    for name, value in (target.get("variables") or {}).items():
        if isinstance(value, Mapping) and "lookup" in value:
            values[name] = _lookup_marker(value["lookup"])
        elif isinstance(value, Mapping) and "default" in value:
            values[name] = value["default"]
        else:
            values[name] = value
    values.update(overrides)
    return values


def _lookup_marker(lookup: Any) -> str:
    if isinstance(lookup, Mapping) and lookup:
        kind, name = next(iter(lookup.items()))
        return f"<lookup {kind}: {name}>"
    return "<lookup>"


class _Resolver:
    def __init__(self, scope: Mapping[str, Any]) -> None:
        self.scope = scope
        self.unresolved: set[str] = set()

    def value(self, ref: str) -> tuple[bool, Any]:
        node: Any = self.scope
        for part in ref.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return False, None
            node = node[part]
        if isinstance(node, str) and node.startswith("<lookup"):
            self.unresolved.add(f"${{{ref}}} = {node}")
        return True, node

    def __call__(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {k: self(v) for k, v in data.items()}
        if isinstance(data, list):
            return [self(v) for v in data]
        if not isinstance(data, str) or "${" not in data:
            return data
        whole = REF.fullmatch(data)
        if whole:
            found, value = self.value(whole.group(1))
            if found:
                return value
        return REF.sub(self._sub, data)

    def _sub(self, m: re.Match[str]) -> str:
        found, value = self.value(m.group(1))
        if not found:
            self.unresolved.add(m.group(0))
            return m.group(0)
        return str(value)


def _resources(files: Mapping[str, str], root: Mapping[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = dict(root.get("resources") or {})
    for pattern in root.get("include") or []:
        for path in sorted(p for p in files if fnmatch.fnmatch(p, str(pattern))):
            resources = merge(resources, _load(files, path).get("resources") or {})
    return resources


def _job_clusters(key: str, settings: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for jc in settings.get("job_clusters") or []:
        if isinstance(jc, Mapping) and isinstance(jc.get("new_cluster"), Mapping):
            yield f"jobs.{key}.job_clusters.{jc.get('job_cluster_key')}", dict(jc["new_cluster"])
    for task in settings.get("tasks") or []:
        if isinstance(task, Mapping) and isinstance(task.get("new_cluster"), Mapping):
            yield f"jobs.{key}.tasks.{task.get('task_key')}.new_cluster", dict(task["new_cluster"])


def _cloud(spec: Mapping[str, Any]) -> str:
    for cloud, (path, _) in SPOT_KINDS.items():
        if path.split(".")[0] in spec:
            return cloud
    return "aws"


class _TargetChecker:
    def __init__(self, engine: Engine, pack: Pack, target: str, env: str) -> None:
        self.engine, self.pack, self.target, self.env = engine, pack, target, env
        self.problems: list[BundleProblem] = []
        self.checked = 0

    def _engine(self, rtype: str, data: Mapping[str, Any], resource: str) -> None:
        res = RESOURCE_TYPES.get(rtype).obj.make(f"bundle:{self.target}", data)
        ctx = EvaluationContext(workspace=f"bundle:{self.target}", environment=self.env)
        self.checked += 1
        for f in self.engine.evaluate([res], ctx).findings:
            evidence = ", ".join(f"{k}={v}" for k, v in f.evidence.items())
            self.problems.append(
                BundleProblem(self.target, resource, f.rule_id, f"{f.title} ({evidence})")
            )

    def job(self, key: str, settings: dict[str, Any], run_as: Any) -> None:
        settings.pop("permissions", None)
        if run_as and not settings.get("run_as"):
            settings["run_as"] = run_as
        self._engine("jobs", {"job_id": f"bundle:{key}", "settings": settings}, f"jobs.{key}")
        self._schedule(key, settings.get("schedule"))
        for where, spec in _job_clusters(key, settings):
            data = {**spec, "cluster_id": where, "cluster_name": where, "cluster_source": "JOB"}
            self._engine("clusters", data, where)
            docs = export(self.pack, self.env, cloud=_cloud(spec))
            for v in evaluate_policies(docs, {**spec, "cluster_type": "job"}):
                self.problems.append(
                    BundleProblem(self.target, where, f"policy:{v.path}", v.message)
                )

    def _schedule(self, key: str, schedule: Any) -> None:
        """A cron or timezone Databricks would refuse at deploy (schedule.py)."""
        if not isinstance(schedule, Mapping):
            return
        for field_name, check in (
            ("quartz_cron_expression", cron_problem),
            ("timezone_id", timezone_problem),
        ):
            value = schedule.get(field_name)
            problem = check(str(value)) if value is not None else None
            if problem is not None:
                self.problems.append(
                    BundleProblem(self.target, f"jobs.{key}", f"schedule.{field_name}", problem)
                )


def _target_problems(name: str, env: str, target: Mapping[str, Any]) -> list[BundleProblem]:
    out = []
    mode = target.get("mode")
    if env == "prod" and mode != "production":
        out.append(BundleProblem(name, "target", "bundle.mode", "prod must use mode: production"))
    run_as = target.get("run_as") or {}
    if mode == "production" and not run_as.get("service_principal_name"):
        out.append(
            BundleProblem(
                name,
                "target",
                "bundle.run_as",
                "production targets must run as a service principal (SOP 1.5.3)",
            )
        )
    return out


def check_bundle(
    files: Mapping[str, str], pack: Pack, *, overrides: Mapping[str, Any] | None = None
) -> BundleCheck:
    """Run lakecrew's rules and exported cluster policies over every target of the bundle."""
    if "databricks.yml" not in files:
        raise DataError("the bundle has no databricks.yml", fix="generate or pass a bundle")
    root = _load(files, "databricks.yml")
    targets = root.get("targets") or {}
    if not targets:
        raise DataError(
            "databricks.yml has no targets", where="databricks.yml", fix="add dev/qa/prod"
        )
    base = _resources(files, root)
    engine = Engine(pack)
    problems: list[BundleProblem] = []
    checked: dict[str, int] = {}
    unresolved: set[str] = set()
    for name, raw in targets.items():
        target: Mapping[str, Any] = raw or {}
        env = str(name)
        if env not in pack.environments:
            problems.append(
                BundleProblem(
                    name, "target", "bundle.environment", "not an environment of the pack"
                )
            )
            continue
        problems += _target_problems(name, env, target)
        scope = {
            "var": _variables(root, target, overrides or {}),
            "bundle": {"target": name, "name": (root.get("bundle") or {}).get("name")},
        }
        resolve = _Resolver(scope)
        resources = resolve(merge(base, target.get("resources") or {}))
        run_as = resolve(target.get("run_as") or root.get("run_as"))
        checker = _TargetChecker(engine, pack, name, env)
        for key, job in (resources.get("jobs") or {}).items():
            checker.job(key, dict(job), run_as)
        problems += checker.problems
        checked[name] = checker.checked
        unresolved |= resolve.unresolved
    return BundleCheck(tuple(problems), checked, tuple(sorted(unresolved)))
