"""Remediation manifests: validation of script, name, limits and parameter schema, content hash.

A registration is immutable and addressed by `content_hash`, so two registrations with the
same script and fields are the same version.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from remediations.errors import ManifestError, ParamsError

MAX_SCRIPT_BYTES = 256 * 1024
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# The runner owns these; letting a manifest pass them through would undo its isolation
# (LD_PRELOAD runs code in every process the script starts).
RESERVED_ENV = frozenset({"PATH", "HOME", "LANG", "TMPDIR"})
RESERVED_ENV_PREFIXES = ("VIGIL_", "LD_", "DYLD_")
TIMEOUT_RANGE_S = (1.0, 3600.0)
CONCURRENCY_RANGE = (1, 64)
# Linux reads at most 256 bytes of a "#!" line (BINPRM_BUF_SIZE); longer ones are cut silently.
MAX_SHEBANG_BYTES = 255


@dataclass(frozen=True)
class Manifest:
    """One immutable remediation version: the script text and how to run it."""

    name: str
    description: str
    script: str
    params_schema: dict[str, Any] = field(hash=False)
    timeout_s: float
    max_concurrency: int
    allowed_env: tuple[str, ...]
    builtin: str | None = None


def validate_script(text: str | bytes, *, max_bytes: int = MAX_SCRIPT_BYTES) -> str:
    """Check that a script can be executed directly through its shebang.

    Args:
        text: the script, as text or as the bytes uploaded.
        max_bytes: largest accepted size in UTF-8 bytes.

    Returns:
        The script as text.

    Raises:
        ManifestError: field "script"; the message says what is wrong.
    """
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(data) > max_bytes:
        raise ManifestError(f"script is {len(data)} bytes, more than the {max_bytes} allowed", field="script")
    if b"\x00" in data:
        offset = data.index(b"\x00")
        raise ManifestError(f"script contains a NUL byte at offset {offset}", field="script")
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"script is not valid UTF-8 (byte {exc.start})", field="script") from None
    _check_shebang(data.split(b"\n", 1)[0])
    return decoded


def _check_shebang(first_line: bytes) -> None:
    """Raise ManifestError unless the line is "#!/absolute/interpreter [arg]"."""
    if not first_line.startswith(b"#!"):
        raise ManifestError(
            'script must start with a "#!" line naming its interpreter, e.g. "#!/bin/sh"', field="script"
        )
    if first_line.endswith(b"\r"):
        raise ManifestError(
            "script's #! line ends with CR (Windows line endings); the kernel "
            "would look for an interpreter named with a trailing CR",
            field="script",
        )
    if len(first_line) > MAX_SHEBANG_BYTES:
        raise ManifestError(
            f"script's #! line is {len(first_line)} bytes, more than the {MAX_SHEBANG_BYTES} the kernel reads",
            field="script",
        )
    interpreter = first_line[2:].strip().split(b" ", 1)[0]
    if not interpreter.startswith(b"/"):
        raise ManifestError(
            f"script's #! line must name an absolute interpreter path, got {interpreter.decode('utf-8', 'replace')!r}",
            field="script",
        )


def validate_schema(schema: Any) -> dict[str, Any]:
    """Check a parameter schema against the JSON Schema 2020-12 meta-schema.

    Raises:
        ManifestError: field "params_schema".
    """
    if not isinstance(schema, dict):
        raise ManifestError(f"params_schema must be an object, got {type(schema).__name__}", field="params_schema")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise ManifestError(
            f"params_schema is not a valid JSON Schema at {where}: {exc.message}", field="params_schema"
        ) from None
    return schema


def parse_manifest(data: Mapping[str, Any], *, max_script_bytes: int = MAX_SCRIPT_BYTES) -> Manifest:
    """Validate raw manifest fields (an API body, a builtin's sidecar) into a Manifest.

    Args:
        data: keys name, script, and optionally description, params_schema (default: an
            object with no declared properties), timeout_s (60), max_concurrency (1),
            allowed_env ([]), builtin (None).
        max_script_bytes: largest accepted script size.

    Returns:
        The Manifest, with timeout_s as a float so equal content hashes equally.

    Raises:
        ManifestError: the first invalid field, named in `field`.
    """
    unknown = sorted(set(data) - {f for f in Manifest.__dataclass_fields__})
    if unknown:
        raise ManifestError(f"unknown manifest field {unknown[0]!r}", field=unknown[0])
    builtin = data.get("builtin")
    if builtin is not None and not isinstance(builtin, str):
        raise ManifestError("builtin must be a string or null", field="builtin")
    return Manifest(
        name=_name(data.get("name")),
        description=_text(data.get("description", ""), "description", 2000),
        script=validate_script(_text(data.get("script"), "script", None), max_bytes=max_script_bytes),
        params_schema=validate_schema(data.get("params_schema", {"type": "object"})),
        timeout_s=float(_number(data.get("timeout_s", 60), "timeout_s", *TIMEOUT_RANGE_S)),
        max_concurrency=int(
            _number(data.get("max_concurrency", 1), "max_concurrency", *CONCURRENCY_RANGE, integer=True)
        ),
        allowed_env=_env_names(data.get("allowed_env", ())),
        builtin=builtin,
    )


def _name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise ManifestError(
            f"name must be 1-63 characters of a-z, 0-9, '_', '.', '-', starting with a letter or digit, got {value!r}",
            field="name",
        )
    return value


def _text(value: Any, field_name: str, max_chars: int | None) -> str:
    if not isinstance(value, str):
        raise ManifestError(f"{field_name} must be a string, got {type(value).__name__}", field=field_name)
    if max_chars is not None and len(value) > max_chars:
        raise ManifestError(f"{field_name} is longer than {max_chars} characters", field=field_name)
    return value


def _number(value: Any, field_name: str, low: float, high: float, *, integer: bool = False) -> float:
    # bool is an int in Python; `timeout_s: true` is a typo, not a one-second timeout.
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise ManifestError(
            f"{field_name} must be {kind} between {low:g} and {high:g}, got {value!r}", field=field_name
        )
    return float(value)


def _env_names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ManifestError("allowed_env must be a list of variable names", field="allowed_env")
    for name in value:
        if not isinstance(name, str) or not ENV_NAME_PATTERN.match(name):
            raise ManifestError(f"allowed_env: {name!r} is not a variable name", field="allowed_env")
        if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
            raise ManifestError(f"allowed_env: {name} is reserved for the runner", field="allowed_env")
    return tuple(sorted(set(value)))


def content_hash(manifest: Manifest) -> str:
    """Return the sha256 hex digest of the manifest's canonical JSON (keys sorted, compact).

    Every field takes part, so any change to script or settings makes a new version.
    """
    fields = asdict(manifest)
    fields["timeout_s"] = float(manifest.timeout_s)
    fields["allowed_env"] = list(manifest.allowed_env)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate_params(schema: Mapping[str, Any], params: Any) -> dict[str, Any]:
    """Check parameters against a manifest's params_schema.

    Args:
        schema: a schema that passed validate_schema.
        params: the rendered parameters.

    Returns:
        A shallow copy of params (defaults are not filled in: the script owns them).

    Raises:
        ParamsError: errors maps a JSON path ("$.unit", "$.headers.X") to the reasons there.
    """
    if not isinstance(params, dict):
        raise ParamsError("params must be an object", errors={"$": "expected an object"})
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors: dict[str, str] = {}
    for error in validator.iter_errors(params):
        for path, reason in _locate(error):
            # jsonschema yields one "required" error per missing key; keep each reason once.
            if reason not in errors.get(path, "").split("; "):
                errors[path] = f"{errors[path]}; {reason}" if path in errors else reason
    if errors:
        summary = "; ".join(f"{p}: {r}" for p, r in sorted(errors.items()))
        raise ParamsError(f"invalid params: {summary}", errors=errors)
    return dict(params)


def _locate(error: Any) -> list[tuple[str, str]]:
    """Return (path, reason) pairs; a missing required key is reported at its own path."""
    if error.validator == "required" and isinstance(error.instance, dict):
        # Point at the missing key itself, which is what a form or a CLI user needs.
        missing = [k for k in error.validator_value if k not in error.instance]
        if missing:
            return [(f"{error.json_path}.{key}", "is required") for key in missing]
    return [(error.json_path, error.message)]
