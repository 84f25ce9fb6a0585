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
from lakecrew.services.pipelines.number_spec import NumberSpec
from lakecrew.services.pipelines.source_options import Dhis2SourceOptions, FileSourceOptions
from lakecrew.services.pipelines.spec import BronzeSpec, GoldSpec, PipelineSpec, QuarantineSpec
from lakecrew.services.privacy.kinds import Classification, PiiKind, floor_for, label_for
from lakecrew.services.quality.coercion import DEFAULT_NULLS

HEADER = """# Pipeline spec reference (version 1)

Generated from the pydantic models by `python -m lakecrew.services.pipelines.spec_doc`; do not
edit by hand (a test fails when this page and the models differ). Specs live in
`<project>/pipelines/<name>.yaml`; a complete example is
`src/lakecrew/services/pipelines/examples/lassa_weekly.yaml`. Unknown keys are refused
everywhere, at `file:line`, with a did-you-mean. `source.options` are checked by the model of
the source `type` (file types, `dhis2`, `kafka`). Null tokens, number formats, the reasons
of quarantined values and the classification floors are at the end of the page.
"""


def _values() -> list[str]:
    """The generated tail: null tokens, numbers, reasons, classification floors and defaults."""
    nulls = ", ".join(f"`{v}`" if v else "`''` (empty)" for v in DEFAULT_NULLS)
    thousands = NumberSpec.model_fields["thousands"].annotation
    marks = ", ".join(
        f'`"{m}"`' for t in _walk(thousands) for m in typing.get_args(t) if isinstance(m, str)
    )
    out = [
        "## Null tokens",
        "",
        f"A value that, trimmed and in any letter case, equals one of {nulls} is read as NULL in",
        "every column (it is not a failure; `nullable: false` or a `not_null` expectation then",
        "decides). `silver.null_values` replaces the list for every column, a column's",
        "`null_values` for that column (`[]`: nothing but a missing value is NULL).",
        "",
        "## Numbers",
        "",
        "`int`/`bigint`/`double`/`float` read `1234`, `+12`, `12.0` (ints) and `1.5e3` (doubles)",
        "by default. Other notations need `number:` (on `silver` for every numeric column, or on a",
        f"column): `decimal` (`.` or `,`) and `thousands` ({marks}; a space also matches no-break",
        "and narrow no-break spaces). A declared format is strict: groups of three digits, and a",
        'value in another notation fails instead of being guessed. Examples: `{decimal: ",",',
        'thousands: "."}` reads `1.234,5`; `{thousands: " "}` reads `492 272`.',
        "",
        "## Quarantine reasons",
        "",
        "A value that does not coerce sends its row to quarantine with a reason naming the column,",
        'what was found and, for numbers, the likely fix, e.g. `coerce.cases: "12,5" is not an',
        'integer (decimal comma? set number.decimal: ",")`. In a column with `pii:` other than',
        '`none` the reason shows only the value\'s shape (`a value shaped "+999 999 9999"`).',
        "",
        "## Classification floors and defaults",
        "",
        "Labels, least to most sensitive: "
        + ", ".join(c.value for c in Classification)
        + ". A table's label may not be below the floor of the personal data it keeps (masked",
        "values count: a token or a partial phone still links back to the person):",
        "",
        "| personal data kept | lowest label |",
        "|---|---|",
    ]
    floors: dict[Classification, list[str]] = {}
    for kind in PiiKind:
        floors.setdefault(floor_for({kind}), []).append(kind.value)
    for label, kinds in floors.items():
        what = "none (`pii: none` everywhere)" if kinds == ["none"] else ", ".join(kinds)
        out.append(f"| {what} | {label.value} |")
    bronze = BronzeSpec.model_fields["classification"].default.value
    quarantine = QuarantineSpec.model_fields["classification"].default.value
    gold = GoldSpec.model_fields["classification"].default.value
    out += [
        "",
        f"Unlabelled tables get: bronze {bronze} and quarantine {quarantine} (raw, unscreened",
        f"values), gold {gold}; `silver.classification` is required. The PII classifier",
        f"(`lakecrew classify`) proposes {label_for(set()).value} for a table without",
        "personal data: Public is a decision of the data's owner, never a default.",
        "",
    ]
    return out


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
    return "\n".join(out + _values())


if __name__ == "__main__":
    sys.stdout.write(render())
