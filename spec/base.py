"""Building blocks shared by the stack's models.

Numbers and switches are typed so that pydantic never turns one into the other: left to
itself it reads `duration_s: true` as 1 and `enabled: 1` as true. `Bool` is strict; `Int` and
`Float` refuse booleans and keep the rest of pydantic's reading, since the Pulumi CLI hands a
decimal set with `--path` over as text ("0.5") and Pulumi gives numbers back as floats (10.0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic import Strict as StrictType

NAME_RE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
Name = Annotated[str, Field(pattern=NAME_RE, max_length=40)]


def shown(value: object, width: int = 40) -> str:
    """A value as the stack file would spell it (JSON: `true`, `"1376"`), cut to fit in one line."""
    try:
        text = json.dumps(value, default=str)
    except ValueError:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def refuse_bool(expected: str) -> BeforeValidator:
    """A validator that lets anything but true and false through to the number's own validation."""

    def check(value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(f"expects {expected}, not {shown(value)} (true and false are not numbers)")
        return value

    return BeforeValidator(check)


def schema_also(shape: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A `json_schema_extra` for a key whose before-validator takes one more shape than its type
    (`mss: 1376` for `[1376]`): the stack's JSON Schema (docs/stack.schema.json) admits it too."""

    def widen(schema: dict[str, Any]) -> None:
        kept: dict[str, Any] = {k: schema.pop(k) for k in ("title", "description", "default") if k in schema}
        variants = schema.pop("oneOf", None) or schema.pop("anyOf", None) or [dict(schema)]
        schema.clear()
        schema.update(kept, anyOf=[*variants, shape])

    return widen


def computed_default(schema: dict[str, Any]) -> None:
    """A `json_schema_extra` for a default computed from files (the tool image's hash): the schema and
    docs/stack.md give none, so that they change with the models only; the field's docstring says it."""
    schema.pop("default", None)


Int = Annotated[int, refuse_bool("an integer")]
Float = Annotated[float, refuse_bool("a number")]
Bool = Annotated[bool, StrictType()]


class Strict(BaseModel):
    """Unknown keys are typos in a stack file: refuse them.

    A field's docstring is its description (`use_attribute_docstrings`): the one text that
    docs/stack.md and docs/stack.schema.json show for the key (`meshperf docs`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
