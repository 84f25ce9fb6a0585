"""What Unity Catalog should hold for each table: from the pipeline specs, the registry, and
comments a steward approved (SOP 1.3.1).

- A pipeline spec names the owner, steward, classification, tags and PII columns of every table
  it writes (`pipelines.governance.governed_tables`); those win.
- A table no spec writes keeps what its registration recorded (`properties.steward`,
  `properties.classification`, `properties.owner`) — the registry — and its PII column tags.
- Comments come from ``governance/comments.yaml`` in the project: proposals with
  ``approved_by`` are applied, the others are listed and left alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from lakecrew.ports.catalog import TableInfo, parse_full_name
from lakecrew.services.estate.yamlpos import load_yaml_file, validate_model

if TYPE_CHECKING:
    from lakecrew.services.pipelines.loader import LoadedPipeline

COMMENTS_FILE = Path("governance") / "comments.yaml"


@dataclass(frozen=True)
class TableWant:
    """The governed state of one table. Empty fields: no source says what they should be."""

    full_name: str
    source: str  # "pipeline <name>" | "registry"
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    pii: Mapping[str, str] = field(default_factory=dict)  # column → PII kind to mask at read
    masked_at_write: frozenset[str] = frozenset()  # columns the writer masked already


def wants_from_specs(loaded: Iterable[LoadedPipeline]) -> dict[str, TableWant]:
    """The state each pipeline's registration sets, by table full name."""
    from lakecrew.services.pipelines.governance import governed_tables  # heavy: only when used

    out: dict[str, TableWant] = {}
    for lp in loaded:
        spec = lp.spec
        for table, _desc, label, layer, protection in governed_tables(spec):
            full = lp.full_name(table)
            tags = {
                **spec.tags,
                "classification": label.value,
                "steward": spec.steward,
                "layer": layer,
                "pipeline": spec.name,
            }
            written = frozenset(c for c, t in protection.tags.items() if t.get("masking"))
            pii = {c: kind for c, kind in _kinds(protection.tags).items() if c in protection.masks}
            out[full] = TableWant(full, f"pipeline {spec.name}", spec.owner, tags, pii, written)
    return out


def _kinds(tags: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    return {c: t["pii"] for c, t in tags.items() if t.get("pii")}


def want_from_registry(info: TableInfo) -> TableWant:
    """What the table's own registration says (its `classification` property as the tag, its
    `owner` property, and its PII column tags)."""
    props = info.properties
    # the steward may be a property or a tag (rule table.steward_missing); classification
    # must be a tag (table.classification_missing)
    tags = {"classification": str(props["classification"])} if props.get("classification") else {}
    written = frozenset(c.name for c in info.columns if c.tags.get("masking"))
    pii = {
        c.name: c.tags["pii"]
        for c in info.columns
        if c.tags.get("pii") and c.tags["pii"].lower() not in ("false", "no", "0")
    }
    return TableWant(info.full_name, "registry", str(props.get("owner") or ""), tags, pii, written)


class CommentProposal(BaseModel):
    """One proposed comment; applied only once a steward approved it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    table: str
    column: str | None = None
    comment: str = Field(min_length=1, max_length=4000)
    proposed_by: str = Field(min_length=1)
    approved_by: str | None = None

    @property
    def resource_id(self) -> str:
        full = ".".join(parse_full_name(self.table))
        return f"{full}#{self.column}" if self.column else full


class CommentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(1, ge=1, le=1)
    comments: list[CommentProposal] = Field(default_factory=list)


def load_comment_proposals(project: Path) -> list[CommentProposal]:
    """The proposals of ``governance/comments.yaml`` (none when the file is absent); problems
    are ConfigProblems with file:line."""
    path = project / COMMENTS_FILE
    if not path.is_file():
        return []
    return validate_model(CommentsFile, load_yaml_file(path), what="comments file").comments
