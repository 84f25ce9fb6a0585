"""Options of a ``source: {type: kafka}`` pipeline source (validated strictly at load time).

A Kafka source runs on the Spark engine only (Structured Streaming; the local DuckDB engine
refuses it). The options say *what* to read; ``adapters/spark/kafka_options.py`` maps them to
Spark's own option names::

    source:
      type: kafka
      options:
        bootstrap_servers: ${env.options.kafka_bootstrap}   # "host:9092,host2:9092" or a list
        topics: [lab_results]            # exactly one of topics / subscribe_pattern / assign
        starting_offsets: earliest       # earliest | latest | {topic: {partition: offset}}
        max_offsets_per_trigger: 10000
        fail_on_data_loss: true
        include_headers: false
        security:
          protocol: SASL_SSL             # PLAINTEXT | SSL | SASL_SSL | SASL_PLAINTEXT
          sasl_mechanism: PLAIN          # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
          credentials: {scope: kafka, username_key: api_key, password_key: api_secret}
        checkpoint: ${env.paths.kafka_checkpoint}
        trigger: available_now           # or {processing_time: 1 minute}

Credentials are *named* (a secret scope and keys), never written in the spec: an inline
password, JAAS config or token is refused with a clear error that never echoes the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_SERVER = re.compile(r"^[A-Za-z0-9._-]+:[0-9]{1,5}$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_INTERVAL = re.compile(r"^[1-9][0-9]*\s+(second|minute|hour)s?$")
_INLINE = ("password", "passwd", "secret", "jaas", "token", "api_key", "apikey")
_SUBSCRIPTIONS = ("topics", "subscribe_pattern", "assign")
Topic = Annotated[str, Field(pattern=_TOPIC.pattern)]


def _fail(kind: str, message: str, fix: str, *, hide: bool = False) -> PydanticCustomError:
    ctx: dict[str, Any] = {"fix": fix}
    if hide:
        ctx["hide_input"] = True
    return PydanticCustomError(kind, message.replace("{", "(").replace("}", ")"), ctx)


def _refuse_inline(value: Any) -> Any:
    """Refuse keys that would put a credential in the spec (the value is never echoed)."""
    if isinstance(value, Mapping):
        for key in value:
            named = str(key) in ("username_key", "password_key")
            if not named and any(word in str(key).lower() for word in _INLINE):
                raise _fail(
                    "inline_secret",
                    f"inline credential {key!r} refused: credentials never go in a spec",
                    "put it in the secret store and name it: security.credentials: "
                    "(scope: ..., username_key: ..., password_key: ...)",
                    hide=True,
                )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaCredentials(_Strict):
    """Where the SASL username and password live in the secret store (names only)."""

    scope: str
    username_key: str
    password_key: str

    @model_validator(mode="before")
    @classmethod
    def _no_values(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _fail(
                "credentials",
                "credentials must name a secret scope and keys",
                "credentials: (scope: kafka, username_key: user, password_key: password)",
                hide=True,
            )
        return _refuse_inline(value)

    @field_validator("scope", "username_key", "password_key")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _SECRET_NAME.match(value) or ".." in value:
            raise _fail(
                "secret_name",
                "not a secret scope/key name (1-128 letters, digits, '_', '-', '.')",
                "name the secret; never write its value here",
                hide=True,
            )
        return value


class KafkaSecurity(_Strict):
    """``kafka.security.protocol`` and, for SASL, the mechanism and the named credentials."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    credentials: KafkaCredentials | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_inline(cls, value: Any) -> Any:
        return _refuse_inline(value)

    @model_validator(mode="after")
    def _sasl(self) -> KafkaSecurity:
        sasl = self.protocol.startswith("SASL_")
        if sasl and (self.sasl_mechanism is None or self.credentials is None):
            raise _fail(
                "sasl",
                f"protocol {self.protocol} needs sasl_mechanism and credentials",
                "add sasl_mechanism: PLAIN (or SCRAM-SHA-256/512) and credentials: "
                "(scope, username_key, password_key)",
            )
        if not sasl and (self.sasl_mechanism is not None or self.credentials is not None):
            raise _fail(
                "sasl",
                f"sasl_mechanism/credentials given but protocol is {self.protocol}",
                "use protocol SASL_SSL (or SASL_PLAINTEXT), or remove them",
            )
        return self


class ProcessingTime(_Strict):
    """A micro-batch every interval (``"1 minute"``, ``"30 seconds"``): a continuous job."""

    processing_time: str

    @field_validator("processing_time")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not _INTERVAL.match(value.strip()):
            raise _fail("interval", "not an interval", "e.g. '1 minute', '30 seconds', '2 hours'")
        return value.strip()


class KafkaSourceOptions(_Strict):
    """Everything a Kafka source needs; see the module docstring for the YAML form."""

    bootstrap_servers: str | Annotated[list[str], Field(min_length=1)]
    topics: Annotated[list[Topic], Field(min_length=1)] | None = None
    subscribe_pattern: Annotated[str, Field(min_length=1)] | None = None
    assign: (
        dict[Topic, Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]] | None
    ) = None
    starting_offsets: str | dict[Topic, dict[str, int]] = "latest"
    max_offsets_per_trigger: Annotated[int, Field(ge=1)] | None = None
    fail_on_data_loss: bool = True
    include_headers: bool = False
    security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    checkpoint: Annotated[str, Field(min_length=1)]
    trigger: Literal["available_now"] | ProcessingTime = "available_now"

    @model_validator(mode="before")
    @classmethod
    def _no_inline(cls, value: Any) -> Any:
        return _refuse_inline(value)

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers(cls, value: str | list[str]) -> str:
        items = value.split(",") if isinstance(value, str) else value
        servers = [s.strip() for s in items]
        if not servers or not all(_SERVER.match(s) for s in servers):
            raise _fail(
                "servers", "bootstrap_servers must be host:port[,host:port...]", "e.g. b1:9092"
            )
        return ",".join(servers)

    @field_validator("trigger", mode="before")
    @classmethod
    def _trigger(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return ProcessingTime.model_validate(value)
        if value != "available_now":
            raise _fail(
                "trigger",
                "trigger is available_now or (processing_time: <interval>)",
                "available_now drains what is new and stops (scheduled job); "
                "processing_time: 1 minute runs continuously",
            )
        return value

    @field_validator("subscribe_pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise _fail(
                    "pattern", f"not a regular expression ({exc})", "fix the regex"
                ) from None
        return value

    @field_validator("starting_offsets", mode="before")
    @classmethod
    def _offsets(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("earliest", "latest"):
            try:
                value = json.loads(value)
            except ValueError:
                raise _fail(
                    "offsets",
                    "starting_offsets is earliest, latest or per-partition JSON",
                    'e.g. earliest, or {"topic": {"0": 23, "1": -2}} (-2 earliest, -1 latest)',
                ) from None
        if isinstance(value, Mapping):
            for parts in value.values():
                bad = not isinstance(parts, Mapping) or any(
                    not str(p).isdigit() or not isinstance(o, int) or o < -2
                    for p, o in parts.items()
                )
                if bad:
                    raise _fail(
                        "offsets",
                        "per-partition offsets map partition numbers to offsets >= -2",
                        'e.g. {"topic": {"0": 23, "1": -2}} (-2 earliest, -1 latest)',
                    )
            return {t: {str(p): o for p, o in parts.items()} for t, parts in value.items()}
        return value

    @model_validator(mode="after")
    def _one_subscription(self) -> KafkaSourceOptions:
        given = [k for k in _SUBSCRIPTIONS if getattr(self, k) is not None]
        if len(given) != 1:
            raise _fail(
                "subscription",
                f"give exactly one of topics, subscribe_pattern, assign (got {len(given)})",
                "e.g. topics: [lab_results]",
            )
        if isinstance(self.starting_offsets, dict) and self.assign is not None:
            extra = sorted(set(self.starting_offsets) - set(self.assign))
            if extra:
                raise _fail(
                    "offsets",
                    f"starting_offsets names topics not assigned: {', '.join(extra)}",
                    "list only assigned topics",
                )
        return self

    @property
    def continuous(self) -> bool:
        """Whether the trigger is a processing-time interval (a never-ending query)."""
        return isinstance(self.trigger, ProcessingTime)


def validate_kafka_options(value: Any) -> Any:
    """Validate ``source.options`` of a kafka source; returns the options unchanged."""
    KafkaSourceOptions.model_validate(value)
    return value
