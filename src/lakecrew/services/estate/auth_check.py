"""Offline check of Databricks authentication, before any network call (`estate validate`).

For each `backend: databricks` workspace: the named `auth_profile` must exist in the Databricks
config file (`$DATABRICKS_CONFIG_FILE`, else ~/.databrickscfg) with a host that matches the
workspace's `host` when both are given; without a profile, the environment must carry a
credential (`DATABRICKS_TOKEN`, `DATABRICKS_CLIENT_ID` + `DATABRICKS_CLIENT_SECRET`, or
`DATABRICKS_CONFIG_PROFILE` naming an existing profile) — or, on a Databricks cluster
(`DATABRICKS_RUNTIME_VERSION` set: a job task), the runtime's own credentials. A problem is a
ConfigError (exit 2) in one line naming the workspace and the fix — in milliseconds, where
the SDK would try every credential provider (azure-cli included) over the network before
failing. No credential value
is read into a message.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Any

from lakecrew.core.errors import ConfigError, did_you_mean


def config_file() -> Path:
    """The Databricks config file the SDK and CLI read."""
    env = os.environ.get("DATABRICKS_CONFIG_FILE")
    return Path(env).expanduser() if env else Path.home() / ".databrickscfg"


def _profiles(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(default_section="__none__", interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise ConfigError(
            f"the Databricks config file cannot be read ({type(exc).__name__})",
            where=str(path),
            fix="fix its INI syntax, or run `databricks auth login` to rewrite it",
        ) from None
    return {name: dict(parser[name]) for name in parser.sections()}


def _norm(host: str) -> str:
    return host.strip().rstrip("/").lower()


def check_workspace_auth(name: str, host: str | None, profile: str | None) -> dict[str, Any]:
    """How one Databricks workspace will authenticate; ConfigError when it cannot."""
    where = f"lakecrew.yaml workspace {name}"
    path = config_file()
    profile = profile or os.environ.get("DATABRICKS_CONFIG_PROFILE")
    if profile:
        profiles = _profiles(path)
        if profile not in profiles:
            known = sorted(profiles)
            raise ConfigError(
                f"auth_profile {profile!r} is not in {path}{did_you_mean(profile, known)}"
                + (f" (profiles: {', '.join(known)})" if known else " (no profiles there)"),
                where=where,
                fix=f"run `databricks auth login --host {host or '<workspace url>'} "
                f"--profile {profile}`, or set DATABRICKS_CONFIG_FILE",
            )
        section = profiles[profile]
        has_host = section.get("host")
        if host and has_host and _norm(has_host) != _norm(host):
            raise ConfigError(
                f"auth_profile {profile!r} is for host {has_host}, not {host}",
                where=where,
                fix="use the profile of this workspace, or correct `host`",
            )
        method = section.get("auth_type") or _method(section)
        return {"workspace": name, "method": method, "detail": f"profile {profile} in {path}"}
    env = {k: v for k, v in os.environ.items() if k.startswith("DATABRICKS_") and v}
    method = _method({k.removeprefix("DATABRICKS_").lower(): v for k, v in env.items()})
    if method == "unknown" and os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        # on a Databricks cluster (a job task): the SDK takes the runtime's own credentials
        return {"workspace": name, "method": "runtime", "detail": "the Databricks runtime"}
    if method == "unknown":
        raise ConfigError(
            "no Databricks credential: no auth_profile, and no DATABRICKS_TOKEN or "
            "DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET in the environment",
            where=where,
            fix="set auth_profile to a ~/.databrickscfg profile (`databricks auth login`), "
            "or export DATABRICKS_TOKEN",
        )
    return {"workspace": name, "method": method, "detail": "from the environment"}


def _method(values: dict[str, str]) -> str:
    if values.get("token"):
        return "pat"
    if values.get("client_id") and values.get("client_secret"):
        return "oauth-m2m"
    if values.get("azure_client_id") or values.get("azure_tenant_id"):
        return "azure"
    if values.get("host") and values.get("auth_type"):
        return values["auth_type"]
    return "unknown"


def check_databricks_auth(config: Any) -> list[dict[str, Any]]:
    """The offline auth check of every `backend: databricks` workspace of an EstateConfig;
    ConfigProblems naming every workspace that cannot authenticate."""
    from lakecrew.services.estate.yamlpos import ConfigProblems, Problem

    checks, problems = [], []
    for ws in config.workspaces:
        if ws.backend != "databricks":
            continue
        try:
            checks.append(check_workspace_auth(ws.name, ws.host, ws.auth_profile))
        except ConfigError as err:
            problems.append(Problem(err.what, err.where or ws.name, err.fix))
    if problems:
        raise ConfigProblems(problems)
    return checks
