"""The evaluation against a REAL model endpoint (`live` marker; skipped without one).

    LAKECREW_LIVE_MODEL_BASE=http://127.0.0.1:8080/v1 LAKECREW_LIVE_MODEL_ID=qwen2.5-7b-instruct \
      [LAKECREW_SECRET_ASSISTANT_API_KEY=...] pytest -m live tests/unit/assist/test_live_eval.py -s

Prints the score with the model's name; asserts only that every question was asked and the
runs were recorded (a model's quality is reported, not assumed)."""

from __future__ import annotations

import os

import pytest

from lakecrew.services.assist.config import AssistantConfig
from lakecrew.services.assist.evaluation import Facts, evaluate
from lakecrew.wiring.assist import agent_service
from lakecrew.wiring.context import Context

BASE = os.environ.get("LAKECREW_LIVE_MODEL_BASE")
MODEL = os.environ.get("LAKECREW_LIVE_MODEL_ID")

pytestmark = [
    pytest.mark.live,
    pytest.mark.xdist_group("assist"),
    pytest.mark.skipif(not (BASE and MODEL), reason="no LAKECREW_LIVE_MODEL_BASE/_ID"),
]


def test_live_model_evaluation(lc: Context) -> None:
    model = {"type": "openai", "model_id": MODEL, "api_base": BASE}
    if os.environ.get("LAKECREW_SECRET_ASSISTANT_API_KEY"):
        model["api_key_secret"] = "assistant/api_key"
    cfg = AssistantConfig.model_validate({"model": model, "max_steps": 8})
    lc.config = lc.config.model_copy(update={"assistant": cfg})
    svc = agent_service(lc)
    facts = Facts(lc.sql, lc.config, svc.deps.pack, lc.clock.now())

    def ask(q: str) -> tuple[str, str, int]:
        run = svc.ask(q)
        return run.row.answer, run.row.status, len(run.calls)

    results = evaluate(ask, facts)
    correct = sum(r.correct for r in results)
    print(f"\nlive evaluation: {MODEL} at {BASE}: {correct}/{len(results)} correct")
    for r in results:
        print(f"  {'OK ' if r.correct else 'NO '} {r.qid}: expected {r.expected!r}, {r.state}")
    assert len(results) >= 40
    assert len(lc.ledger.agent_runs()) >= len(results)
