"""Spec options → Spark's standard Kafka option names, for every spec form; secrets stay hidden."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from lakecrew.adapters.local.secrets import LocalSecretStore
from lakecrew.adapters.spark.kafka_options import (
    JAAS,
    MASK,
    kafka_options,
    parse_kafka_options,
    redact,
)
from lakecrew.core.errors import NotFound

PASSWORD = 'pa"ss\\w0rd-Sup3rSecret'
BASE: dict[str, Any] = {"bootstrap_servers": "b1:9092", "checkpoint": "./ck"}
SASL = {
    "protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "credentials": {"scope": "kafka", "username_key": "user", "password_key": "pw"},
}


@pytest.fixture
def secrets(tmp_path: Path) -> LocalSecretStore:
    store = LocalSecretStore(tmp_path / "secrets", environ={})
    store.put("kafka", "user", SecretStr("svc-lab"))
    store.put("kafka", "pw", SecretStr(PASSWORD))
    return store


def _opts(secrets: LocalSecretStore, **options: Any) -> dict[str, str]:
    return dict(kafka_options(parse_kafka_options({**BASE, **options}), secrets))


def test_defaults_with_topics(secrets: LocalSecretStore) -> None:
    assert _opts(secrets, topics=["a", "b"]) == {
        "kafka.bootstrap.servers": "b1:9092",
        "subscribe": "a,b",
        "startingOffsets": "latest",
        "failOnDataLoss": "true",
        "includeHeaders": "false",
        "kafka.security.protocol": "PLAINTEXT",
    }


def test_pattern_assign_offsets_and_flags(secrets: LocalSecretStore) -> None:
    got = _opts(
        secrets,
        bootstrap_servers=["b1:9092", "b2:9093"],
        subscribe_pattern="lab\\..*",
        starting_offsets="earliest",
        max_offsets_per_trigger=500,
        fail_on_data_loss=False,
        include_headers=True,
        security={"protocol": "SSL"},
    )
    assert got == {
        "kafka.bootstrap.servers": "b1:9092,b2:9093",
        "subscribePattern": "lab\\..*",
        "startingOffsets": "earliest",
        "maxOffsetsPerTrigger": "500",
        "failOnDataLoss": "false",
        "includeHeaders": "true",
        "kafka.security.protocol": "SSL",
    }
    assigned = _opts(
        secrets,
        assign={"lab": [0, 2]},
        starting_offsets={"lab": {"0": 17, "2": -2}},
    )
    assert assigned["assign"] == '{"lab":[0,2]}'
    assert assigned["startingOffsets"] == '{"lab":{"0":17,"2":-2}}'
    assert "subscribe" not in assigned and "subscribePattern" not in assigned
    json_text = _opts(secrets, topics=["lab"], starting_offsets='{"lab": {"1": -1}}')
    assert json_text["startingOffsets"] == '{"lab":{"1":-1}}'


@pytest.mark.parametrize(
    ("mechanism", "module"),
    [
        ("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"),
        ("SCRAM-SHA-256", "org.apache.kafka.common.security.scram.ScramLoginModule"),
        ("SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule"),
    ],
)
def test_sasl_builds_jaas_from_the_secret_store(
    secrets: LocalSecretStore, mechanism: str, module: str
) -> None:
    got = _opts(secrets, topics=["a"], security={**SASL, "sasl_mechanism": mechanism})
    assert got["kafka.security.protocol"] == "SASL_SSL"
    assert got["kafka.sasl.mechanism"] == mechanism
    assert got[JAAS] == (
        f'{module} required username="svc-lab" password="pa\\"ss\\\\w0rd-Sup3rSecret";'
    )
    spec = parse_kafka_options({**BASE, "topics": ["a"], "security": SASL})
    shaded = kafka_options(spec, secrets, shaded_client=True)
    assert shaded[JAAS].startswith("kafkashaded.org.apache.kafka.common.security.scram.")


def test_secret_never_in_repr_str_logs_or_redacted_errors(
    secrets: LocalSecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    opts = kafka_options(parse_kafka_options({**BASE, "topics": ["a"], "security": SASL}), secrets)
    assert "Sup3rSecret" in opts[JAAS]  # the reader gets it (escaped) ...
    for shown in (repr(opts), str(opts), f"{opts}"):
        assert "Sup3rSecret" not in shown and MASK in shown  # ... nothing else shows it
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("lakecrew.test").info("kafka options: %s", opts)
    assert "Sup3rSecret" not in caplog.text
    message = f"Kafka said: login failed for {opts[JAAS]} (password {PASSWORD})"
    assert "Sup3rSecret" not in redact(message, opts)
    spec_repr = repr(parse_kafka_options({**BASE, "topics": ["a"], "security": SASL}))
    assert "Sup3rSecret" not in spec_repr  # the spec only names the secret


def test_missing_secret_names_scope_not_value(tmp_path: Path) -> None:
    spec = parse_kafka_options({**BASE, "topics": ["a"], "security": SASL})
    with pytest.raises(NotFound) as err:
        kafka_options(spec, LocalSecretStore(tmp_path / "none", environ={}))
    assert "kafka" in str(err.value)
