"""Kafka source options → the standard Structured Streaming option names (no pyspark needed).

``kafka_options(spec, secrets)`` returns exactly what ``spark.readStream.format("kafka")
.options(**opts)`` takes: ``kafka.bootstrap.servers``, one of ``subscribe`` /
``subscribePattern`` / ``assign``, ``startingOffsets``, ``maxOffsetsPerTrigger``,
``failOnDataLoss``, ``includeHeaders``, ``kafka.security.protocol`` and, for SASL,
``kafka.sasl.mechanism`` and ``kafka.sasl.jaas.config`` built from the secret store. The result
is a ``KafkaReaderOptions`` (a ``dict[str, str]``) whose ``repr``/``str`` mask the JAAS config;
``redact(text, opts)`` removes the secret values from any message before it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lakecrew.core.kafka_spec import KafkaSourceOptions
from lakecrew.ports.secrets import SecretStore

JAAS = "kafka.sasl.jaas.config"
MASK = "**********"
LOGIN_MODULES = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}
SHADED_PREFIX = "kafkashaded."
"""Databricks Runtime shades the Kafka client: its login modules live under ``kafkashaded.``."""


class KafkaReaderOptions(dict[str, str]):
    """Spark reader options; printing them never shows the credentials."""

    def __init__(self, items: Mapping[str, str], secrets: tuple[str, ...] = ()) -> None:
        super().__init__(items)
        self.secret_values = secrets

    def __repr__(self) -> str:
        return repr({k: (MASK if k == JAAS else v) for k, v in self.items()})

    __str__ = __repr__


def parse_kafka_options(options: Mapping[str, Any]) -> KafkaSourceOptions:
    """The typed options of a spec's ``source.options`` (already validated at load)."""
    return KafkaSourceOptions.model_validate(dict(options))


def kafka_options(
    spec: KafkaSourceOptions, secrets: SecretStore, *, shaded_client: bool = False
) -> KafkaReaderOptions:
    """Spark's Kafka reader options for ``spec``; credentials read from ``secrets``.

    ``shaded_client`` uses Databricks' shaded login module class names (``kafkashaded.``).
    """
    opts: dict[str, str] = {"kafka.bootstrap.servers": str(spec.bootstrap_servers)}
    if spec.topics is not None:
        opts["subscribe"] = ",".join(spec.topics)
    elif spec.subscribe_pattern is not None:
        opts["subscribePattern"] = spec.subscribe_pattern
    elif spec.assign is not None:
        opts["assign"] = json.dumps(spec.assign, separators=(",", ":"))
    offsets = spec.starting_offsets
    opts["startingOffsets"] = (
        offsets if isinstance(offsets, str) else json.dumps(offsets, separators=(",", ":"))
    )
    if spec.max_offsets_per_trigger is not None:
        opts["maxOffsetsPerTrigger"] = str(spec.max_offsets_per_trigger)
    opts["failOnDataLoss"] = _flag(spec.fail_on_data_loss)
    opts["includeHeaders"] = _flag(spec.include_headers)
    security = spec.security
    opts["kafka.security.protocol"] = security.protocol
    hidden: tuple[str, ...] = ()
    if security.sasl_mechanism is not None and security.credentials is not None:
        creds = security.credentials
        user = secrets.get(creds.scope, creds.username_key).get_secret_value()
        password = secrets.get(creds.scope, creds.password_key).get_secret_value()
        module = LOGIN_MODULES[security.sasl_mechanism]
        if shaded_client:
            module = SHADED_PREFIX + module
        opts["kafka.sasl.mechanism"] = security.sasl_mechanism
        opts[JAAS] = f'{module} required username="{_quote(user)}" password="{_quote(password)}";'
        hidden = tuple(v for v in (password, user, _quote(password)) if v)
    return KafkaReaderOptions(opts, hidden)


def redact(text: str, options: Mapping[str, str]) -> str:
    """``text`` with every secret of ``options`` (JAAS config, password, user) masked."""
    values = list(getattr(options, "secret_values", ()))
    if JAAS in options:
        values.append(options[JAAS])
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _quote(value: str) -> str:
    """Escape for a double-quoted JAAS value (Kafka's parser reads backslash escapes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
