"""The evaluation set: at least 40 questions, each answer computed from the estate by its
reference and reached by a scripted sequence of tool calls (the tools alone suffice)."""

from __future__ import annotations

import pytest

from lakecrew.services.assist.evaluation import Facts, questions, score
from lakecrew.wiring.assist import assist_deps, project_toolbox
from lakecrew.wiring.context import Context

pytestmark = pytest.mark.xdist_group("assist")


def test_every_question_is_answerable_by_its_tool_script(lc: Context) -> None:
    qs = questions()
    assert len(qs) >= 40 and len({q.qid for q in qs}) == len(qs)
    facts = Facts(lc.sql, lc.config, assist_deps(lc).pack, lc.clock.now())
    box = project_toolbox(lc)
    wrong = {}
    for q in qs:
        expected = q.reference(facts)
        got = q.script(box)
        if got != expected:
            wrong[q.qid] = (expected, got)
    assert not wrong, wrong
    assert all(c.error is None for c in box.calls)


def test_references_follow_the_estate_not_constants(lc: Context) -> None:
    """The same references on a shifted clock give different cost answers."""
    from datetime import timedelta

    pack = assist_deps(lc).pack
    now = lc.clock.now()
    qs = [q for q in questions() if q.qid in ("week-total", "day-total")]
    a = [q.reference(Facts(lc.sql, lc.config, pack, now)) for q in qs]
    b = [q.reference(Facts(lc.sql, lc.config, pack, now - timedelta(days=3))) for q in qs]
    assert len(qs) == 2 and a[0] != b[0] and a[1] != b[1]


@pytest.mark.parametrize(
    ("answer", "expected", "ok"),
    [
        ("It cost $2,925.82 last week.", "2925.82", True),
        ("It cost 2925.8 USD", "2925.82", False),
        ("29258.20", "2925.82", False),
        (
            "The owner is Malaria-Data@sim.ehealthafrica.example.",
            "malaria-data@sim.ehealthafrica.example",
            True,
        ),
        ("There are 32 open findings", "32", True),
        ("There are 3 open findings", "32", False),
    ],
)
def test_score(answer: str, expected: str, ok: bool) -> None:
    assert score(answer, expected) is ok
