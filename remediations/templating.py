"""Fill binding parameters from alert data without ever executing that data.

A parameter string may contain `{{ dotted.path }}` references, e.g. "{{ labels.instance }}".
The substitution is a single regex pass over the *template*: values are inserted verbatim and
never scanned again, so a label holding `$(reboot)` or `{{ x }}` stays those literal characters.
There is no expression language, no attribute access and no filters.

Types: a string that is exactly one reference ("{{ value }}") takes the referenced value with
its JSON type (a number stays a number, so a schema can say `"type": "number"`); a reference
embedded in longer text is rendered as text (strings as they are, anything else as JSON).

URLs: alert data (labels come from whoever holds an ingest token) must never choose where a
request goes. In a template that starts with `scheme://`, a reference may only stand after
the host and port; there it is percent-encoded (every character but A-Z a-z 0-9 - . _ ~, and
"." or ".." whole is encoded too), so it can neither end the path nor start a query. A
reference anywhere else whose rendered string starts like a URL (`x://`) is refused, as is any
reference inside an `allow_hosts` param (the destination allowlist is written by people).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from remediations.errors import ParamsError

_SEGMENT = r"[A-Za-z0-9_-]+"
REFERENCE = re.compile(r"\{\{\s*(" + _SEGMENT + r"(?:\." + _SEGMENT + r")*)\s*\}\}")
_MISSING = object()
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# Params whose values say where requests may go: only literal text, never alert data.
LITERAL_PARAMS = frozenset({"allow_hosts"})


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
        return {
            k: _literal(v, f"{path}.{k}", errors) if k in LITERAL_PARAMS else _render(v, context, f"{path}.{k}", errors)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_render(v, context, f"{path}[{i}]", errors) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _render_string(node, context, path, errors)
    return node


def _literal(node: Any, path: str, errors: dict[str, str]) -> Any:
    """A param that must not be templated: returned as is, with an error if it references."""
    if REFERENCE.search(json.dumps(node, default=str)):
        errors[path] = "may not hold a {{ reference }}: alert data must not choose destinations"
    return node


def _render_string(text: str, context: Mapping[str, Any], path: str, errors: dict[str, str]) -> Any:
    whole = REFERENCE.fullmatch(text.strip())
    if whole:
        value = _lookup(context, whole.group(1))
        if value is _MISSING:
            errors[path] = f"unknown reference {whole.group(1)!r}"
            return text
        if isinstance(value, str) and _URL_START.match(value.strip()):
            _add(errors, path, f"{{{{ {whole.group(1)} }}}} may not choose a URL (got {value!r})")
            return text
        return value
    url_prefix = _url_prefix_length(text)

    def replace(match: re.Match[str]) -> str:
        value = _lookup(context, match.group(1))
        if value is _MISSING:
            _add(errors, path, f"unknown reference {match.group(1)!r}")
            return match.group(0)
        rendered = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        if url_prefix is None:
            return rendered
        if match.start() < url_prefix:
            _add(
                errors,
                path,
                f"{{{{ {match.group(1)} }}}} may not choose a URL's scheme, "
                "host or port; put references after the host",
            )
            return match.group(0)
        return _encode(rendered)

    rendered_text = REFERENCE.sub(replace, text)
    if url_prefix is None and rendered_text != text and _URL_START.match(rendered_text.strip()):
        _add(
            errors,
            path,
            "alert data may not choose a URL's scheme, host or port "
            f"(the template {text!r} starts a URL only once rendered)",
        )
        return text
    return rendered_text


def _url_prefix_length(text: str) -> int | None:
    """Length of `scheme://authority` when `text` starts a URL, else None.

    The authority ends at the first "/", "?" or "#" after "://"; a reference before that
    point would pick the host (or, holding "@" or ":", the user info or port).
    """
    start = _URL_START.match(text.lstrip())
    if start is None:
        return None
    offset = len(text) - len(text.lstrip()) + start.end()
    end = re.compile(r"[/?#]").search(text, offset)
    return end.start() if end else len(text)


def _encode(value: str) -> str:
    # "." and ".." whole are dot-segments that climb the path; encode them too.
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _add(errors: dict[str, str], path: str, reason: str) -> None:
    errors[path] = f"{errors[path]}; {reason}" if path in errors else reason


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
