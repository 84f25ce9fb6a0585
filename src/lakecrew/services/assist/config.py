"""The `assistant:` section of lakecrew.yaml: which model the crew's agents use, and budgets.

```yaml
assistant:
  model:
    type: openai                       # any OpenAI-compatible endpoint (llama.cpp, vLLM, Ollama,
    model_id: qwen2.5-7b-instruct      #   Databricks Model Serving, a hosted API, a LiteLLM proxy)
    api_base: http://127.0.0.1:8080/v1
    api_key_secret: assistant/api_key  # scope/key in the SecretStore (never the key itself)
  max_steps: 8                         # model steps per run
  max_tokens: 60000                    # input + output tokens per run
  timeout_seconds: 120                 # per model request
  max_tool_output_chars: 8000          # a tool result longer than this is cut (and says so)
  triage_on_open: false                # true: the sweep drafts a triage (a pending ticket-comment
  triage_max_per_sweep: 5              #   proposal) on each anomaly / SLA ticket it opens
```

No `assistant:` section: the deterministic crew runs as always; `lakecrew ask` says how to add
one and exits 2.

LiteLLM is reached as a proxy (`litellm --config ...` serves the OpenAI API): `type: openai`
with `api_base: http://HOST:4000/v1`. `type: litellm` (the in-process SDK) is refused with one
line: litellm 1.110 requires boto3 → botocore, which needs python-dateutil < 3, while the
project pins python-dateutil 4.0.0 (requirements/lock.txt); it would also add boto3, botocore,
tokenizers, huggingface-hub and tiktoken to every install for a path the proxy already covers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LITELLM_REFUSED = (
    "type litellm is not supported (the litellm SDK cannot be installed with lakecrew's pins: "
    "it needs botocore, which needs python-dateutil<3); run a LiteLLM proxy and use type: "
    "openai with api_base: http://HOST:4000/v1"
)


class ModelConfig(_Strict):
    """One model endpoint: `type: openai` talks the OpenAI chat-completions API (with tool
    calls) to `api_base` — llama.cpp, vLLM, Ollama, Databricks Model Serving, a hosted API or a
    LiteLLM proxy."""

    type: Literal["openai"]
    model_id: str = Field(min_length=1)
    api_base: str | None = None
    api_key_secret: str | None = Field(
        default=None, description="scope/key of the API key in the SecretStore"
    )
    temperature: float = Field(default=0.0, ge=0, le=2)

    @field_validator("type", mode="before")
    @classmethod
    def _no_litellm_sdk(cls, value: object) -> object:
        if value == "litellm":
            raise ValueError(LITELLM_REFUSED)
        return value

    @field_validator("api_key_secret")
    @classmethod
    def _scope_key(cls, value: str | None) -> str | None:
        if value is not None and value.count("/") != 1:
            raise ValueError("api_key_secret is scope/key, e.g. assistant/api_key")
        return value

    @field_validator("api_base")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("api_base is an http(s) URL, e.g. http://127.0.0.1:8080/v1")
        return value


class AssistantConfig(_Strict):
    model: ModelConfig
    max_steps: int = Field(default=8, ge=1, le=50)
    max_tokens: int = Field(default=60_000, ge=1000)
    timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    max_tool_output_chars: int = Field(default=8000, ge=500, le=200_000)
    # Off by default: the sweep stays model-free. On: every anomaly (cost.anomaly) or SLA
    # (sla.*) ticket a sweep opens gets a triage run whose draft is a pending proposal.
    triage_on_open: bool = False
    triage_max_per_sweep: int = Field(default=5, ge=1, le=100)


HOW_TO_CONFIGURE = (
    "add an `assistant:` section to lakecrew.yaml, e.g. `assistant: {model: {type: openai, "
    "model_id: MODEL, api_base: http://127.0.0.1:8080/v1}}`; for a key, set api_key_secret to "
    "a scope/key of the SecretStore such as assistant/api_key (read from "
    "LAKECREW_SECRET_ASSISTANT_API_KEY or .lakecrew/secrets/assistant/api_key)"
)
