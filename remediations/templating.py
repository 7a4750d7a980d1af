"""Fill binding parameters from alert data without ever executing that data.

A parameter string may contain `{{ dotted.path }}` references, e.g. "{{ labels.instance }}".
The substitution is a single regex pass over the *template*: values are inserted verbatim and
never scanned again, so a label holding `$(reboot)` or `{{ x }}` stays those literal characters.
There is no expression language, no attribute access and no filters.

Types: a string that is exactly one reference ("{{ value }}") takes the referenced value with
its JSON type (a number stays a number, so a schema can say `"type": "number"`); a reference
embedded in longer text is rendered as text (strings as they are, anything else as JSON).
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from remediations.errors import ParamsError

_SEGMENT = r"[A-Za-z0-9_-]+"
REFERENCE = re.compile(r"\{\{\s*(" + _SEGMENT + r"(?:\." + _SEGMENT + r")*)\s*\}\}")
_MISSING = object()


def render_params(template: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Replace `{{ path }}` references in a binding's parameters with alert data.

    Args:
        template: the binding's parameters; strings anywhere inside (nested objects and
            lists too) may hold references. Keys are never rendered.
        context: plain data to look references up in, e.g. {"labels": {...}, "value": 3.5,
            "fingerprint": ..., "detector": ..., "severity": ..., "state": ...}.

    Returns:
        A new dict; the template is not changed.

    Raises:
        ParamsError: some references name nothing in the context; errors maps the JSON path
            of each parameter ("$.unit") to the unknown reference.
    """
    errors: dict[str, str] = {}
    rendered = _render(dict(template), context, "$", errors)
    if errors:
        summary = "; ".join(f"{path}: {reason}" for path, reason in sorted(errors.items()))
        raise ParamsError(f"cannot render params: {summary}", errors=errors)
    assert isinstance(rendered, dict)  # _render maps a dict to a dict
    return rendered


def _render(node: Any, context: Mapping[str, Any], path: str, errors: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _render(v, context, f"{path}.{k}", errors) for k, v in node.items()}
    if isinstance(node, list):
        return [_render(v, context, f"{path}[{i}]", errors) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _render_string(node, context, path, errors)
    return node


def _render_string(text: str, context: Mapping[str, Any], path: str,
                   errors: dict[str, str]) -> Any:
    whole = REFERENCE.fullmatch(text.strip())
    if whole:
        value = _lookup(context, whole.group(1))
        if value is _MISSING:
            errors[path] = f"unknown reference {whole.group(1)!r}"
            return text
        return value

    def replace(match: re.Match[str]) -> str:
        value = _lookup(context, match.group(1))
        if value is _MISSING:
            unknown = f"unknown reference {match.group(1)!r}"
            errors[path] = f"{errors[path]}; {unknown}" if path in errors else unknown
            return match.group(0)
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)

    return REFERENCE.sub(replace, text)


def _lookup(context: Mapping[str, Any], dotted: str) -> Any:
    """Follow a dotted path through mappings (and lists by index); _MISSING when absent."""
    value: Any = context
    for part in dotted.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value
