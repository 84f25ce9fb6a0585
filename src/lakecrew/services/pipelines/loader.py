"""Load a pipeline spec for one environment, reporting every problem at ``file:line``.

Environment settings (SOP 1.5.3): values that differ per environment live in
``environments.<dev|qa|prod>`` (``catalog``, ``paths``, ``options``) and are referenced anywhere
else in the spec as ``${env.name}``, ``${env.catalog}``, ``${env.paths.<key>}`` or
``${env.options.<key>}``. A reference that is the whole value keeps the setting's type (a number
stays a number); inside a longer string it is inserted as text. ``$${`` writes a literal ``${``.

The spec is resolved and validated for *every* environment, so a prod-only mistake fails in dev
CI; ``load_pipeline_spec`` then returns the requested environment's resolution. Source options
that look like paths or URLs must come from ``${env.*}`` (no hard-coded locations), and secrets
never belong in a spec (the tokenization key is named in ``privacy``, read from the SecretStore).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from lakecrew.services.estate.yamlpos import (
    ConfigProblems,
    Loc,
    Problem,
    YamlDocument,
    dotted,
    load_yaml,
    load_yaml_file,
    pydantic_problems,
)
from lakecrew.services.pipelines.spec import (
    ENVIRONMENTS,
    SPEC_VERSION,
    Environment,
    EnvironmentSettings,
    PipelineSpec,
)
from lakecrew.services.quality.rules import RULE_TYPES

_REF = re.compile(r"(?<!\$)\$\{([^}]*)\}")
_WHOLE = re.compile(r"^\$\{([^}]*)\}$")
_LOCATION = re.compile(r"^(/|\./|\.\./|~/|[a-z][a-z0-9+.-]*://|dbfs:|[A-Za-z]:\\)")


@dataclass(frozen=True)
class LoadedPipeline:
    """A spec resolved for one environment, with helpers for fully-qualified names."""

    spec: PipelineSpec
    env: Environment
    source: str
    gold_sql_at: tuple[str, ...] = ()
    """``file:line`` of each gold model's ``sql`` (for errors found when binding it)."""

    @property
    def settings(self) -> EnvironmentSettings:
        """This environment's settings block."""
        return self.spec.environments[self.env]

    @property
    def catalog(self) -> str:
        """The catalog every table of this environment lives in."""
        return self.settings.catalog

    def full_name(self, table: str) -> str:
        """``catalog.schema.table`` for a spec's ``schema.table``."""
        return f"{self.catalog}.{table}"


def load_pipeline_spec(
    path: Path, env: Environment, *, source: str | None = None
) -> LoadedPipeline:
    """Read, resolve and validate one spec file; ConfigProblems lists every problem."""
    return resolve(load_yaml_file(path, source=source), env)


def load_pipeline_text(text: str, env: Environment, *, source: str = "<spec>") -> LoadedPipeline:
    """Same as ``load_pipeline_spec`` for text already in memory."""
    return resolve(load_yaml(text, source=source), env)


def resolve(doc: YamlDocument, env: Environment) -> LoadedPipeline:
    """Resolve ``doc`` for every environment and return the one asked for."""
    data = doc.data
    if not isinstance(data, Mapping):
        raise ConfigProblems(
            [
                Problem(
                    "a pipeline spec must be a mapping",
                    doc.where(),
                    "start from the example in services/pipelines/README.md",
                )
            ]
        )
    version = data.get("version")
    if version != SPEC_VERSION:
        raise ConfigProblems(
            [
                Problem(
                    f"unsupported spec version {version!r}"
                    if version is not None
                    else "missing version",
                    doc.where(("version",)),
                    f"add `version: {SPEC_VERSION}` at the top (the only version read here)",
                )
            ]
        )
    problems = _hard_coded_locations(data, doc)
    envs = data.get("environments")
    resolved: dict[str, PipelineSpec] = {}
    names = [e for e in ENVIRONMENTS if isinstance(envs, Mapping) and e in envs] or [env]
    names.sort(key=lambda e: e != env)  # the requested environment first
    seen: set[tuple[str, str]] = set()
    for name in names:
        settings = envs.get(name) if isinstance(envs, Mapping) else None
        found: list[Problem] = []
        substituted = _substitute(data, _context(name, settings), doc, found, ())
        _fill_environment_tag(substituted, name, doc, found)
        if not found:
            try:
                resolved[name] = PipelineSpec.model_validate(substituted)
            except ValidationError as exc:
                found.extend(
                    pydantic_problems(cast(ValidationError, _Cleaned(exc)), doc, PipelineSpec)
                )
        for p in found:
            if (p.what, p.where) not in seen:
                seen.add((p.what, p.where))
                problems.append(p if name == env else Problem(f"[{name}] {p.what}", p.where, p.fix))
    unique = list(dict.fromkeys(problems))
    if unique:
        raise ConfigProblems(unique)
    if env not in resolved:
        raise ConfigProblems(
            [
                Problem(
                    f"no settings for environment {env}",
                    doc.where(("environments",)),
                    f"add environments.{env}",
                )
            ]
        )
    gold = resolved[env].gold
    at = tuple(doc.where(("gold", i, "sql")) for i in range(len(gold)))
    return LoadedPipeline(resolved[env], env, doc.source, at)


class _Cleaned:
    """A ValidationError whose locations no longer carry the expectation-type tag."""

    def __init__(self, exc: ValidationError) -> None:
        self._exc = exc

    def errors(self, include_url: bool = False) -> list[Any]:
        out = []
        for err in self._exc.errors(include_url=include_url):
            loc = list(err["loc"])
            keep = [
                part
                for i, part in enumerate(loc)
                if not (i and isinstance(loc[i - 1], int) and part in RULE_TYPES)
            ]
            out.append({**err, "loc": tuple(keep)})
        return out


def _context(name: str, settings: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {"name": name}
    if isinstance(settings, Mapping):
        ctx.update({k: v for k, v in settings.items() if k in ("catalog", "paths", "options")})
    return ctx


def _lookup(ctx: Mapping[str, Any], ref: str) -> tuple[bool, Any]:
    parts = ref.strip().split(".")
    if parts[0] != "env" or len(parts) < 2:
        return False, None
    current: Any = ctx
    for part in parts[1:]:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return not isinstance(current, Mapping | list), current


def _substitute(
    value: Any, ctx: Mapping[str, Any], doc: YamlDocument, found: list[Problem], loc: Loc
) -> Any:
    if isinstance(value, Mapping):
        if loc == ():
            return {
                k: (
                    copy.deepcopy(v)
                    if k == "environments"
                    else _substitute(v, ctx, doc, found, (k,))
                )
                for k, v in value.items()
            }
        return {k: _substitute(v, ctx, doc, found, (*loc, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, ctx, doc, found, (*loc, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _WHOLE.match(value)
    refs = _REF.findall(value)
    for ref in refs:
        ok, _ = _lookup(ctx, ref)
        if not ok:
            found.append(_bad_ref(ref, ctx, doc, loc))
    if any(not _lookup(ctx, r)[0] for r in refs):
        return value
    if whole:
        return _lookup(ctx, whole.group(1))[1]
    return _REF.sub(lambda m: str(_lookup(ctx, m.group(1))[1]), value).replace("$${", "${")


def _bad_ref(ref: str, ctx: Mapping[str, Any], doc: YamlDocument, loc: Loc) -> Problem:
    where = doc.where(loc)
    if not ref.strip().startswith("env."):
        return Problem(
            f"{dotted(loc)}: unknown reference namespace in ${{{ref}}}",
            where,
            "only ${env.<key>} is substituted; secrets go in the secret store",
        )
    return Problem(
        f"{dotted(loc)}: ${{{ref}}} is not defined for environment {ctx['name']}",
        where,
        f"add it under environments.{ctx['name']} (catalog, paths.<key> or options.<key>)",
    )


def _fill_environment_tag(data: Any, env: str, doc: YamlDocument, found: list[Problem]) -> None:
    tags = data.get("tags") if isinstance(data, dict) else None
    if not isinstance(tags, dict):
        return
    given = tags.get("environment")
    if given is None:
        tags["environment"] = env
    elif given != env:
        found.append(
            Problem(
                f"tags.environment is {given!r} but the spec is resolved for {env}",
                doc.where(("tags", "environment")),
                "write environment: ${env.name} (or leave it out)",
            )
        )


def _hard_coded_locations(data: Mapping[str, Any], doc: YamlDocument) -> list[Problem]:
    src = data.get("source")
    options = src.get("options") if isinstance(src, Mapping) else None
    problems: list[Problem] = []
    for key, value in _strings(options, ("source", "options")):
        if _LOCATION.match(value) and "${env." not in value:
            problems.append(
                Problem(
                    f"{dotted(key)} hard-codes a location",
                    doc.where(key),
                    "move it to environments.<env>.paths and write ${env.paths.<name>} (SOP 1.5.3)",
                )
            )
    return problems


def _strings(value: Any, loc: Loc) -> Sequence[tuple[Loc, str]]:
    if isinstance(value, Mapping):
        return [item for k, v in value.items() for item in _strings(v, (*loc, k))]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _strings(v, (*loc, i))]
    return [(loc, value)] if isinstance(value, str) else []
