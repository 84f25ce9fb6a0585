"""The reference page of the pipeline spec, generated from the pydantic models.

``python -m lakecrew.services.pipelines.spec_doc > docs/pipeline-spec.md`` writes it;
tests/unit/pipelines/test_spec_doc.py fails when the committed page differs from the models,
so the page cannot drift. Every model gets a section: its docstring, then one row per key with
its type, whether it is required, its default and its description (the field's docstring).
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from lakecrew.core.kafka_spec import KafkaSourceOptions
from lakecrew.services.pipelines.source_options import Dhis2SourceOptions, FileSourceOptions
from lakecrew.services.pipelines.spec import PipelineSpec

HEADER = """# Pipeline spec reference (version 1)

Generated from the pydantic models by `python -m lakecrew.services.pipelines.spec_doc`; do not
edit by hand (a test fails when this page and the models differ). Specs live in
`<project>/pipelines/<name>.yaml`; a complete example is
`src/lakecrew/services/pipelines/examples/lassa_weekly.yaml`. Unknown keys are refused
everywhere, at `file:line`, with a did-you-mean. `source.options` are checked by the model of
the source `type` (file types, `dhis2`, `kafka`). Null tokens read as missing by default:
see `ColumnSpec.null_values`.
"""


def _name(tp: Any) -> str:
    """A short readable type: ``list[str]``, ``int | None``, ``'warn' | 'drop'``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_name(a) for a in args)
    if origin is not None:
        inner = ", ".join(_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def _models(root: type[BaseModel], seen: dict[str, type[BaseModel]]) -> None:
    if root.__name__ in seen:
        return
    seen[root.__name__] = root
    for info in root.model_fields.values():
        for arg in _walk(info.annotation):
            if inspect.isclass(arg) and issubclass(arg, BaseModel):
                _models(arg, seen)


def _walk(tp: Any) -> list[Any]:
    out = [tp]
    for arg in typing.get_args(tp):
        out.extend(_walk(arg))
    return out


def _field_docs(model: type[BaseModel]) -> dict[str, str]:
    """Attribute docstrings (a string literal right after the field) of the model's source."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):
        return {}
    docs: dict[str, str] = {}
    for i, line in enumerate(lines[:-1]):
        stripped = line.strip()
        nxt = lines[i + 1].strip()
        if (
            ":" in stripped
            and not stripped.startswith(("#", '"', "def", "@"))
            and (nxt.startswith('"""') and nxt.endswith('"""') and len(nxt) > 6)
        ):
            docs[stripped.split(":")[0].strip()] = nxt.strip('"')
    return docs


def render() -> str:
    """The whole reference page (Markdown)."""
    models: dict[str, type[BaseModel]] = {}
    for root in (PipelineSpec, FileSourceOptions, Dhis2SourceOptions, KafkaSourceOptions):
        _models(root, models)
    out = [HEADER]
    for name, model in models.items():
        doc = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        out += [f"## {name}", "", doc, "", "| key | type | required | default | what |"]
        out.append("|---|---|---|---|---|")
        docs = _field_docs(model)
        for field, info in model.model_fields.items():
            key = info.alias or field
            required = "yes" if info.is_required() else "no"
            default = "" if info.default is PydanticUndefined else repr(info.default)
            if info.default_factory is not None:
                default = repr(info.default_factory())  # type: ignore[call-arg]
            kind = _name(info.annotation)
            what = docs.get(field, "").replace("|", "\\|")
            out.append(f"| `{key}` | `{kind}` | {required} | {default} | {what} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(render())
