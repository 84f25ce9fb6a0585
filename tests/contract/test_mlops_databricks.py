"""MLOps on `backend: databricks`: the real MLflow UC/tracking clients and the real SDK, over real
HTTP, against a Unity Catalog registry served by lakecrew.testing.uc_registry (issue 18).

What the local store hides and this catches: UC search results carry no tags or aliases, and a
model-version search without a filter is refused; a model's access is its UC grants."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lakecrew.adapters.mlflow.databricks import UcRegistry
from lakecrew.adapters.mlflow.registry import MlflowRegistry
from lakecrew.core.errors import LakecrewError
from lakecrew.ports.clock import FixedClock
from lakecrew.testing.databricks_project import cli_env, project_yaml
from lakecrew.testing.databricks_replay import DatabricksReplay
from lakecrew.testing.uc_registry import UcRegistryState
from lakecrew.wiring.context import Context
from lakecrew.wiring.mlops import model_ops, rollback_action, sweep_models

ESTATE = Path(__file__).parents[1] / "fixtures" / "databricks" / "uc_registry" / "estate.json"
PROD = "prod_ml.lassa.cfr_forecast"
DEV = "dev_ml.lassa.cfr_forecast"
SANDBOX = "dev_ml.sandbox.untitled"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
MLOPS = """mlops:
  registry_workspace: malaria-dev-westafrica
  prod_catalog: prod_ml
  project_tags: {project: lassa}
"""


@pytest.fixture
def uc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Context, UcRegistryState]]:
    state = UcRegistryState.from_file(ESTATE)
    monkeypatch.chdir(tmp_path)  # MLflow must not fall back to ./mlflow.db (checked below)
    with DatabricksReplay(handlers=[state]) as replay:
        root = tmp_path / "proj"
        root.mkdir()
        (root / "lakecrew.yaml").write_text(project_yaml(replay.url) + MLOPS)
        for key, value in cli_env(tmp_path).items():
            monkeypatch.setenv(key, value)
        ctx = Context.open(root, writable=True)
        ctx.clock = FixedClock(NOW)
        try:
            yield ctx, state
        finally:
            ctx.close()
    assert not (tmp_path / "mlflow.db").exists()


def test_registry_read_through_uc_has_tags_aliases_and_owners(
    uc: tuple[Context, UcRegistryState],
) -> None:
    ctx, _ = uc
    reg = model_ops(ctx).deps.registry
    assert isinstance(reg, UcRegistry)
    models = {m.name: m for m in reg.list_models()}
    assert set(models) == {PROD, DEV, SANDBOX}
    assert models[PROD].tags == {"project": "lassa", "cost_center": "Health"}
    assert models[PROD].aliases == {"champion": "2"}
    assert models[PROD].owner == "ml-team@ehealthafrica.org"
    versions = reg.list_all_versions()
    assert sorted(versions) == [DEV, PROD]  # the sandbox model has none
    v1, v2 = versions[PROD]
    assert (v1.tags, v1.aliases, v2.aliases) == ({"validated": "yes"}, (), ("champion",))
    # the MLmodel files, read by MLflow's UC client through the SDK's Files API
    assert (v1.has_signature, v1.has_input_example, v2.has_input_example) == (True, True, False)


def test_plain_mlflow_reads_would_be_wrong_on_uc(uc: tuple[Context, UcRegistryState]) -> None:
    """The reason UcRegistry exists: the local-store reads fail or lose tags against UC."""
    ctx, _ = uc
    uc_reg = model_ops(ctx).deps.registry
    plain = MlflowRegistry(uc_reg.tracking_uri, uc_reg.registry_uri, acl=uc_reg.acl)
    with pytest.raises(LakecrewError, match="needs a filter"):
        plain._paged("list model versions", plain.client.search_model_versions)
    # MLflow's UC search entities have no tags/aliases to read (RegisteredModelSearch)
    with pytest.raises(Exception, match=r"not available|attribute"):
        plain.list_all_versions()


def test_hygiene_findings_on_a_uc_registry(uc: tuple[Context, UcRegistryState]) -> None:
    ctx, _ = uc
    res = model_ops(ctx).hygiene()
    got = {(f.rule_id, f.resource_id) for f in res.findings}
    assert got == {
        ("model.owner_missing", SANDBOX),
        ("model.description_missing", SANDBOX),
        ("model.tags_missing", SANDBOX),
        ("model.no_versions", SANDBOX),
        ("model_version.description_missing", f"{DEV}/1"),
        ("model_version.artifacts_missing", f"{DEV}/1"),  # its MLmodel answers 404
        ("model_version.input_example_missing", f"{PROD}/2"),
        ("model_version.run_unreadable", f"{DEV}/1"),  # its run is not in this workspace
        ("model_version.prod_alias_outside_prod_catalog", f"{DEV}/1"),
        ("model_version.source_commit_missing", f"{PROD}/2"),
        ("model_version.dataset_missing", f"{PROD}/2"),
        ("model_version.stale", f"{PROD}/1"),
        ("experiment.permissions_missing", "1002"),
    }


def test_files_in_customer_storage_leave_input_examples_unjudged_and_said(
    uc: tuple[Context, UcRegistryState],
) -> None:
    """A workspace without the SDK artifact path hands out temporary cloud credentials (AWS
    here): MLflow needs boto3 for them, which lakecrew does not install — no input-example
    finding and no "artifacts missing", but a note naming the versions and the reason."""
    ctx, state = uc
    state.sdk_artifacts = False
    res = model_ops(ctx).hygiene()
    rules = {(f.rule_id, f.resource_id) for f in res.findings}
    assert ("model_version.input_example_missing", f"{PROD}/2") not in rules
    assert not {r for r in rules if r[0] == "model_version.artifacts_missing"}
    (note,) = res.notes
    assert f"{PROD}/1" in note and "boto3" in note and "not judged" in note


def test_archive_restricts_uc_grants_and_rolls_back(uc: tuple[Context, UcRegistryState]) -> None:
    """The crew's Executor archives through the UC registry (the `(models)` sweep scope) and
    `lakecrew rollback`'s path restores aliases, tags and grants."""
    ctx, state = uc
    state.models[PROD]["aliases"]["challenger"] = "1"
    done = sweep_models(ctx, apply=True, phase=3, only=PROD)
    assert done is not None and not done.failed
    row = next(a for a in done.applied if a.resource_id == f"{PROD}/1")
    assert row.status == "applied", row.reason
    model = state.models[PROD]
    assert model["aliases"] == {"champion": "2"}
    assert model["versions"]["1"]["tags"]["gov.lifecycle"] == "archived"
    assert model["grants"] == {"ml-team@ehealthafrica.org": ["MANAGE"]}
    back = rollback_action(ctx, row)
    assert back.status == "rolled_back"
    assert model["aliases"] == {"champion": "2", "challenger": "1"}
    assert "gov.lifecycle" not in model["versions"]["1"]["tags"]
    assert model["grants"] == {"analysts": ["EXECUTE"], "data-scientists": ["APPLY_TAG", "EXECUTE"]}


def test_experiment_permissions_set_through_the_permissions_api(
    uc: tuple[Context, UcRegistryState],
) -> None:
    from lakecrew.ports.models import Acl

    ctx, state = uc
    reg = model_ops(ctx).deps.registry
    assert reg.acl.get("experiments", "1002") is None
    reg.set_experiment_permissions("1002", [Acl("ds@ehealthafrica.org", "CAN_MANAGE")])
    assert reg.acl.get("experiments", "1002") == (Acl("ds@ehealthafrica.org", "CAN_MANAGE"),)
    assert state.experiments[1]["acl"] == [
        {"principal": "ds@ehealthafrica.org", "level": "CAN_MANAGE"}
    ]
