"""A run form from a remediation's params JSON Schema, and the form's values back as params.

Only the shape of the inputs comes from here (type, enum, required, bounds, description);
whether the values are acceptable is decided by remediations.validate_params, the code the
API runs, when the form is posted. A value that does not convert (letters for an integer)
is passed on as typed, so the schema's own message names the problem.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

# JSON Schema type -> input kind; anything else (object, array, unions) is JSON in a textarea.
_KINDS = {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean"}


@dataclass(frozen=True)
class Field:
    """One input of a run form, from one property of the params schema."""

    name: str
    kind: str  # text | integer | number | boolean | select | json
    required: bool
    description: str = ""
    choices: tuple[str, ...] = ()  # select: the enum's values as text (JSON for non-strings)
    enum: tuple[Any, ...] = ()  # select: the enum's values themselves, in the same order
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    pattern: str | None = None

    @property
    def input_id(self) -> str:
        return f"p-{self.name}"

    @property
    def error_key(self) -> str:
        """Where validate_params reports a problem with this field."""
        return f"$.{self.name}"

    @property
    def hint(self) -> str:
        bounds = []
        if self.minimum is not None:
            bounds.append(f"≥ {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"≤ {self.maximum:g}")
        kind = {"json": "JSON", "select": "one of the choices"}.get(self.kind, self.kind)
        default = f"; default {json.dumps(self.default)}" if self.default is not None else ""
        return f"{kind}{' ' + ', '.join(bounds) if bounds else ''}{default}"


def fields(schema: Mapping[str, Any]) -> list[Field]:
    """One input per top-level property, required ones first, in the schema's order otherwise."""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required") or ()) if isinstance(schema.get("required"), list) else set()
    found = [
        _field(str(name), spec if isinstance(spec, dict) else {}, str(name) in required)
        for name, spec in (properties or {}).items()
    ]
    return sorted(found, key=lambda f: not f.required)


def _field(name: str, spec: Mapping[str, Any], required: bool) -> Field:
    raw_enum = spec.get("enum")
    enum: list[Any] = raw_enum if isinstance(raw_enum, list) else []
    kind = "select" if enum else _KINDS.get(str(spec.get("type")), "json")
    choices = tuple(v if isinstance(v, str) else json.dumps(v) for v in enum) if kind == "select" else ()
    return Field(
        name=name,
        kind=kind,
        required=required,
        description=str(spec.get("description") or ""),
        choices=choices,
        enum=tuple(enum) if kind == "select" else (),
        default=spec.get("default"),
        minimum=_number(spec.get("minimum")),
        maximum=_number(spec.get("maximum")),
        max_length=_whole(spec.get("maxLength")),
        pattern=spec.get("pattern") if isinstance(spec.get("pattern"), str) else None,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def params(form_fields: list[Field], form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """(params, errors) from posted text; an empty optional input is left out (the script's default)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form_fields:
        raw = form.get(f.input_id, "")
        if raw == "" or (raw.strip() == "" and f.kind != "text"):
            continue
        try:
            values[f.name] = _convert(f, raw)
        except ValueError as exc:
            errors[f.error_key] = str(exc)
    return values, errors


def _convert(f: Field, raw: str) -> Any:
    text = raw.strip()
    if f.kind == "integer":
        return int(text) if _is_int(text) else text
    if f.kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    if f.kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if f.kind == "select":
        if text not in f.choices:
            raise ValueError(f"choose one of {', '.join(f.choices)}")
        return f.enum[f.choices.index(text)]
    if f.kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None
    return raw


def _is_int(text: str) -> bool:
    return text.lstrip("+-").isdigit() and len(text) < 40


def shown(f: Field, form: Mapping[str, str] | None) -> str:
    """The input's text: what was posted (to correct it), else the schema's default."""
    if form is not None:
        return form.get(f.input_id, "")
    if f.default is None:
        return ""
    return f.default if isinstance(f.default, str) else json.dumps(f.default)
