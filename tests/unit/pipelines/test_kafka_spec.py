"""Kafka source specs: strict options at file:line, no inline credentials, local refusal, bundle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakecrew.adapters.local.secrets import LocalSecretStore
from lakecrew.adapters.sources.factory import build_source
from lakecrew.core.errors import ConfigError
from lakecrew.core.kafka_spec import KafkaSourceOptions, ProcessingTime
from lakecrew.faces.cli.main import app
from lakecrew.services.estate.yamlpos import ConfigProblems
from lakecrew.services.pipelines.bundle import job_definition, job_key
from lakecrew.services.pipelines.loader import load_pipeline_spec, load_pipeline_text
from lakecrew.services.policy.loader import load_pack
from lakecrew.testing.pipelines import make_project
from lakecrew.wiring import pipelines as pw
from lakecrew.wiring.context import Context

EXAMPLE = (
    Path(__file__).parents[3] / "src/lakecrew/services/pipelines/examples/lab_results_kafka.yaml"
)
TEXT = EXAMPLE.read_text(encoding="utf-8")
SECRET = "hunter2-Sup3rSecret"


def _problems(text: str) -> str:
    with pytest.raises(ConfigProblems) as err:
        load_pipeline_text(text, "dev", source="lab.yaml")
    return str(err.value)


def _line(needle: str, text: str) -> int:
    """First line holding ``needle`` (``key:$`` = a line that is exactly ``key:``)."""
    exact = needle.endswith("$")
    for i, line in enumerate(text.splitlines(), 1):
        if (line.strip() == needle[:-1]) if exact else (needle in line):
            return i
    raise AssertionError(needle)


def test_example_loads_for_every_environment() -> None:
    for env in ("dev", "qa", "prod"):
        loaded = load_pipeline_spec(EXAMPLE, env)
        opts = KafkaSourceOptions.model_validate(loaded.spec.source.options)
        assert opts.topics == ["lab_results"] and opts.trigger == "available_now"
        assert opts.security.credentials is not None
        assert opts.security.credentials.scope == f"kafka_{env}"
        assert env in opts.checkpoint and not opts.continuous


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "    include_headers: true",
            "    include_headers: true\n    topicz: [x]",
            "topicz",
            "unknown key 'topicz' in source.options",
        ),
        (
            "    topics: [lab_results]",
            '    topics: [lab_results]\n    subscribe_pattern: "lab.*"',
            "options:$",
            "exactly one of topics, subscribe_pattern, assign (got 2)",
        ),
        (
            "    topics: [lab_results]\n",
            "",
            "options:$",
            "exactly one of topics, subscribe_pattern, assign (got 0)",
        ),
        (
            "      sasl_mechanism: SCRAM-SHA-512\n",
            "",
            "security:$",
            "needs sasl_mechanism and credentials",
        ),
        (
            "protocol: SASL_SSL",
            "protocol: PLAINTEXT",
            "security:$",
            "sasl_mechanism/credentials given but protocol is PLAINTEXT",
        ),
        (
            "trigger: available_now",
            "trigger: {processing_time: soon}",
            "processing_time",
            "not an interval",
        ),
        ("trigger: available_now", "trigger: once", "    trigger:", "trigger is available_now or"),
        (
            "starting_offsets: earliest",
            "starting_offsets: first",
            "starting_offsets",
            "starting_offsets is earliest, latest or per-partition JSON",
        ),
        (
            "starting_offsets: earliest",
            'starting_offsets: {lab_results: {"0": -3}}',
            "starting_offsets",
            "offsets >= -2",
        ),
        (
            "bootstrap_servers: ${env.options.kafka_bootstrap}",
            "bootstrap_servers: broker",
            "bootstrap_servers",
            "host:port",
        ),
        ("${env.paths.kafka_checkpoint}", "/tmp/ck", "    checkpoint:", "hard-codes a location"),
    ],
)
def test_bad_options_are_reported_at_their_line(
    old: str, new: str, needle: str, message: str
) -> None:
    assert old in TEXT
    text = TEXT.replace(old, new)
    found = _problems(text)
    assert message in found
    if needle:
        assert f"lab.yaml:{_line(needle, text)}:" in found


CREDS = (
    'credentials: {scope: "${env.options.kafka_scope}", '
    "username_key: username, password_key: password}"
)
SASL = "      sasl_mechanism: SCRAM-SHA-512"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (SASL, f"{SASL}\n      password: {SECRET}"),
        ("username_key: username,", f"username_key: username, password: {SECRET},"),
        (
            "    include_headers: true",
            f'    include_headers: true\n    "kafka.sasl.jaas.config": "{SECRET}"',
        ),
        (CREDS, f"credentials: {SECRET}"),
        ("password_key: password}", f'password_key: "{SECRET} !"}}'),
    ],
)
def test_inline_credentials_are_refused_without_echoing_them(old: str, new: str) -> None:
    assert old in TEXT
    found = _problems(TEXT.replace(old, new))
    assert SECRET not in found
    assert "credential" in found or "secret" in found


def test_assign_and_json_offsets_and_processing_time() -> None:
    text = TEXT.replace("topics: [lab_results]", "assign: {lab_results: [0, 2]}")
    text = text.replace(
        "starting_offsets: earliest", 'starting_offsets: \'{"lab_results": {"0": 5, "2": -2}}\''
    )
    text = text.replace("trigger: available_now", "trigger: {processing_time: 1 minute}")
    opts = KafkaSourceOptions.model_validate(load_pipeline_text(text, "dev").spec.source.options)
    assert opts.assign == {"lab_results": [0, 2]}
    assert opts.starting_offsets == {"lab_results": {"0": 5, "2": -2}}
    assert opts.trigger == ProcessingTime(processing_time="1 minute") and opts.continuous
    other = text.replace('"lab_results": {"0": 5', '"other": {"0": 5')
    assert "starting_offsets names topics not assigned: other" in _problems(other)


def _project(tmp: Path) -> Context:
    root = make_project(tmp / "proj")
    (root / "pipelines").mkdir(exist_ok=True)
    shutil.copy(EXAMPLE, root / "pipelines" / "lab_results_kafka.yaml")
    return Context.open(root, writable=True)


def test_local_engine_refuses_kafka_at_validate_plan_and_run(tmp_path: Path) -> None:
    ctx = _project(tmp_path)
    try:
        loaded = pw.load(ctx, "lab_results_kafka")
        with pytest.raises(ConfigError, match="runs on the Spark engine only") as err:
            pw.check_engine(loaded, "local")
        assert "--engine spark" in str(err.value) and "Databricks" in str(err.value)
        pw.check_engine(loaded, "spark")  # accepted
        with pytest.raises(ConfigError, match="Spark engine only"):
            pw.runner_for(ctx).plan(loaded)
        with pytest.raises(ConfigError, match="Spark engine only"):
            pw.runner_for(ctx).run(loaded)
        with pytest.raises(ConfigError, match="Spark engine only"):
            build_source(
                "kafka", loaded.spec.source.options, name="x", checkpoint=tmp_path / "c",
                base_dir=tmp_path, secrets=LocalSecretStore(tmp_path / "s"), where="pipeline x",
            )  # fmt: skip
    finally:
        ctx.close()
    for command in ("validate", "plan", "run"):
        result = CliRunner().invoke(
            app, ["-p", str(tmp_path / "proj"), "pipeline", command, "lab_results_kafka"]
        )
        assert result.exit_code == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "--engine spark" in result.stderr
    # `pipeline validate --engine spark` accepting the spec starts a JVM: it is checked on the
    # Spark integration tests' shared session (tests/integration/test_spark_kafka.py)


def test_bundle_runs_kafka_on_spark_scheduled_or_continuous(tmp_path: Path) -> None:
    from databricks.sdk.service.jobs import JobSettings  # ~0.6 s: not at every collection

    pack = load_pack().pack
    loaded = load_pipeline_spec(EXAMPLE, "prod")
    job = job_definition(loaded, pack)["resources"]["jobs"][job_key(loaded)]
    settings = JobSettings.from_dict(job)
    assert settings.tasks is not None and settings.tasks[0].python_wheel_task is not None
    params = settings.tasks[0].python_wheel_task.parameters
    assert params == ["pipeline", "run", "lab_results_kafka", "--env", "prod", "--engine", "spark"]
    assert settings.schedule is not None and settings.continuous is None
    assert settings.tasks[0].max_retries == 2

    path = tmp_path / "lab_results_kafka.yaml"
    path.write_text(
        TEXT.replace("trigger: available_now", "trigger: {processing_time: 1 minute}"), "utf-8"
    )
    loaded = load_pipeline_spec(path, "prod")
    job = job_definition(loaded, pack)["resources"]["jobs"][job_key(loaded)]
    settings = JobSettings.from_dict(job)
    assert "schedule" not in job and settings.schedule is None
    assert settings.continuous is not None
    assert job["continuous"] == {"pause_status": "UNPAUSED", "task_retry_mode": "ON_FAILURE"}
    assert settings.tasks is not None and settings.tasks[0].max_retries is None
    wheel = settings.tasks[0].python_wheel_task
    assert wheel is not None and wheel.parameters is not None
    assert wheel.parameters[-2:] == ["--engine", "spark"]
