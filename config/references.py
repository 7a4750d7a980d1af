"""Names that refer to other parts of the configuration: each must exist, and be unique.

Checked on the raw mapping, beside field validation rather than after it, so one run of
`vigil check-config` lists a detector's typo and a binding's unknown detector together
instead of one layer per run. The same check guards a Config built in code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Problem = tuple[str, str]  # (key path, what is wrong)


def problems(data: Mapping[str, Any]) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) about names in a configuration mapping (raw YAML or a model dump).

    Args:
        data: the configuration; malformed parts are skipped (field validation reports them).

    Returns:
        Errors: a duplicate name, a detector's unknown source, a binding's unknown detector
        when no alert can be received from outside. Warnings: a binding's detector that no
        configured detector has, when received alerts (Alertmanager, Grafana, generic) could
        carry that name.
    """
    errors: list[Problem] = []
    names = {section: _names(data, section, errors) for section in ("sources", "detectors", "bindings", "channels")}
    for i, entry in _entries(data, "detectors"):
        source = entry.get("source")
        if isinstance(source, str) and source not in names["sources"]:
            errors.append((f"detectors[{i}].source", f"unknown source {source!r}{_known(names['sources'])}"))
    warnings: list[Problem] = []
    receives = _receives_alerts(data.get("ingest"))
    for i, binding in _entries(data, "bindings"):
        detector = binding.get("detector")
        if not isinstance(detector, str) or detector in names["detectors"]:
            continue
        if receives:
            warnings.append(
                (
                    f"bindings[{i}].detector",
                    f"no configured detector is named {detector!r}: the "
                    "binding matches only received alerts of that name",
                )
            )
        else:
            errors.append(
                (
                    f"bindings[{i}].detector",
                    f"unknown detector {detector!r}{_known(names['detectors'])} "
                    "(and no ingest endpoint is configured to receive alerts)",
                )
            )
    return errors, warnings


def _names(data: Mapping[str, Any], section: str, errors: list[Problem]) -> set[str]:
    seen: dict[str, int] = {}
    for i, entry in _entries(data, section):
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        if name in seen:
            errors.append((f"{section}[{i}].name", f"duplicate name {name!r} (also {section}[{seen[name]}])"))
        else:
            seen[name] = i
    return set(seen)


def _entries(data: Mapping[str, Any], section: str) -> list[tuple[int, Mapping[str, Any]]]:
    items = data.get(section)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, Mapping)]


def _receives_alerts(ingest: Any) -> bool:
    if not isinstance(ingest, Mapping):
        return False
    return any(
        isinstance(e, Mapping) and (e.get("token") or e.get("hmac_secret"))
        for e in (ingest.get(k) for k in ("alertmanager", "grafana", "generic"))
    )


def _known(names: set[str]) -> str:
    return f" (known: {', '.join(sorted(names))})" if names else " (none is configured)"


def format_problems(source_file: str, found: list[Problem]) -> list[str]:
    return [f"{source_file}: {path}: {message}" for path, message in found]
