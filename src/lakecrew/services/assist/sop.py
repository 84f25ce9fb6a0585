"""SOP section lookup: the vendored SOP text (sop/databricks-sop.md) split at its headings.

`sop_section("3.2.4")` gives that section's text; `sop_section("idle cluster termination")`
the sections whose heading and text best match the words (a plain term count, no model).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from lakecrew.core.errors import NotFound

_HEADING = re.compile(r"^(#{1,4})\s+(.*?)\s*$")
_NUMBER = re.compile(r"^\**\s*(\d+(?:\\?\.\d+)*)\\?\.?\s+(.*)$")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "in",
        "on",
        "for",
        "to",
        "is",
        "are",
        "be",
        "by",
        "with",
        "what",
        "which",
        "how",
        "why",
        "sop",
    ]
)


@dataclass(frozen=True)
class Section:
    number: str  # "1.2.2", or "" for an unnumbered heading
    title: str
    text: str


@cache
def sections() -> tuple[Section, ...]:
    """Every heading of the SOP with the text up to the next heading."""
    raw = resources.files("lakecrew.services.assist").joinpath("sop/databricks-sop.md")
    out: list[Section] = []
    number, title, body = "", "", []
    for line in raw.read_text(encoding="utf-8").splitlines():
        m = _HEADING.match(line)
        if m is None:
            body.append(line)
            continue
        if title:
            out.append(Section(number, title, "\n".join(body).strip()))
        heading = m.group(2).replace("*", "").strip()
        n = _NUMBER.match(heading)
        number = n.group(1).replace("\\", "") if n else ""
        title = n.group(2).strip() if n else heading
        body = []
    if title:
        out.append(Section(number, title, "\n".join(body).strip()))
    return tuple(s for s in out if s.title)


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def sop_section(query: str, *, limit: int = 3, max_chars: int = 3000) -> list[dict[str, str]]:
    """The section numbered `query`, else the `limit` sections best matching its words."""
    q = query.strip().rstrip(".")
    exact = [s for s in sections() if s.number and s.number == q]
    if exact:
        return [_view(s, max_chars) for s in exact[:1]]
    terms = _words(q)
    if not terms:
        raise NotFound(
            f"no SOP section {query!r}", fix="give a section number (e.g. 3.2.4) or words"
        )
    scored = []
    for s in sections():
        head, body = _words(s.title), _words(s.text)
        score = sum(3 * head.count(t) + min(body.count(t), 5) for t in terms)
        if score:
            scored.append((score, s))
    scored.sort(key=lambda p: -p[0])
    if not scored:
        raise NotFound(
            f"no SOP section mentions {query!r}", fix="try other words or a section number"
        )
    return [_view(s, max_chars) for _, s in scored[:limit]]


def _view(s: Section, max_chars: int) -> dict[str, str]:
    text = s.text if len(s.text) <= max_chars else s.text[:max_chars] + " […]"
    return {"section": s.number, "title": s.title, "text": text}
