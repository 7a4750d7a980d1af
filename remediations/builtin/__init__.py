"""Remediation scripts shipped with Vigil, each an executable file plus a JSON sidecar.

A builtin named N is the executable `N` in this directory and `N.json`, which holds the
manifest fields other than name, script and builtin: description, params_schema,
timeout_s, max_concurrency and optionally allowed_env. Scripts read their parameters from
the JSON document on stdin ({"params": ...}) and fall back to VIGIL_PARAM_* variables.
"""

from __future__ import annotations

import json
from pathlib import Path

from remediations.errors import ManifestError
from remediations.manifest import Manifest, parse_manifest

BUILTIN_DIR = Path(__file__).resolve().parent


def builtin_path(name: str) -> str:
    """Absolute path of builtin `name`'s executable.

    Raises:
        ManifestError: field "builtin"; no such builtin.
    """
    if name not in _names():
        raise ManifestError(
            f"no builtin remediation named {name!r}; known: {', '.join(sorted(_names()))}", field="builtin"
        )
    return str(BUILTIN_DIR / name)


def load_builtin(name: str) -> Manifest:
    """Read and validate builtin `name` into a Manifest (builtin=name).

    Raises:
        ManifestError: unknown name, or a broken sidecar (a packaging bug).
    """
    path = Path(builtin_path(name))
    try:
        sidecar = json.loads(path.with_name(f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(f"builtin {name}: cannot read {name}.json: {exc}", field="builtin") from None
    fields = {**sidecar, "name": name, "builtin": name, "script": path.read_text(encoding="utf-8")}
    return parse_manifest(fields)


def list_builtins() -> dict[str, Manifest]:
    """Every shipped builtin, by name."""
    return {name: load_builtin(name) for name in sorted(_names())}


def _names() -> set[str]:
    return {p.stem for p in BUILTIN_DIR.glob("*.json") if (BUILTIN_DIR / p.stem).is_file()}
