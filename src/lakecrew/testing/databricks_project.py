"""A throw-away project whose workspace is `backend: databricks` on a local replay server.

`project_yaml(host)` writes lakecrew.yaml with one Dev workspace (local without `host`, else
databricks at `host`, e.g. `DatabricksReplay.url`); `cli_env(tmp)` is the environment the CLI
needs for it: the test-only LAKECREW_ALLOW_INSECURE_HOSTS=1 (accepts the http loopback host),
the replay token as DATABRICKS_TOKEN (credentials never live in lakecrew.yaml), and no
~/.databrickscfg profile.
"""

from __future__ import annotations

from pathlib import Path

from lakecrew.testing.databricks_replay import TOKEN

WS = "malaria-dev-westafrica"
WS_ID = "3900000000000001"


def project_yaml(host: str | None = None, *, platform_checks: bool = False) -> str:
    """lakecrew.yaml with WS as a local workspace, or a databricks one at `host`. The sweep's
    identity/audit-delivery checks of a databricks workspace are off unless `platform_checks`
    (recordings of workspace objects hold no token, SCIM or audit payloads)."""
    remote = f"\n    backend: databricks\n    host: {host}" if host else ""
    crew = "" if platform_checks or not host else "crew:\n  platform_checks: false\n"
    return (
        crew
        + f"""version: 1
workspaces:
  - name: {WS}
    environment: dev
    region: westafrica{remote}
    workspace_id: "{WS_ID}"
    owner: malaria-data@sim.ehealthafrica.example
    project: malaria
    cost_center: Health
    approval: {{status: approved, approved_by: Board, approved_on: 2025-03-12}}
"""
    )


def cli_env(tmp: Path) -> dict[str, str]:
    """Environment for `lakecrew` against the replay server (pass to CliRunner.invoke)."""
    return {
        "LAKECREW_ALLOW_INSECURE_HOSTS": "1",
        "DATABRICKS_TOKEN": TOKEN,
        "DATABRICKS_CONFIG_FILE": str(tmp / "no-databrickscfg"),
        "DATABRICKS_HOST": "",
        "DATABRICKS_CONFIG_PROFILE": "",
    }
