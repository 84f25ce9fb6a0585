"""docs/pipeline-spec.md is generated from the models: it fails here when it drifts."""

from __future__ import annotations

from pathlib import Path

from lakecrew.services.pipelines.source_options import FileSourceOptions
from lakecrew.services.pipelines.spec import PipelineSpec, SilverSpec
from lakecrew.services.pipelines.spec_doc import render

PAGE = Path(__file__).resolve().parents[3] / "docs" / "pipeline-spec.md"


def test_the_committed_reference_page_matches_the_models() -> None:
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "regenerate: python -m lakecrew.services.pipelines.spec_doc > docs/pipeline-spec.md"
    )


def test_every_key_of_every_model_is_on_the_page() -> None:
    page = render()
    for model in (PipelineSpec, SilverSpec, FileSourceOptions):
        for field, info in model.model_fields.items():
            assert f"| `{info.alias or field}` |" in page, field
    assert "| `max_quarantine_rate` | `float` | no | 0.2 |" in page
