"""Read a YAML file, expand ${VAR} references, validate into a frozen Config."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path
from typing import Any, Mapping

import yaml
from pydantic import ValidationError

from config import references
from config.channels import CHANNEL_TYPES
from config.errors import ConfigError
from config.schema import Config

DEFAULT_PATH = Path(__file__).with_name("default.yaml")
_EVENT_NAME = re.compile(r"channels\[\d+\]\.events\[\d+\]")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Environment variables that override settings, so a container needs no YAML edits.
_ENV_SETTINGS = {
    "VIGIL_HOST": "host",
    "VIGIL_PORT": "port",
    "VIGIL_DATA_DIR": "data_dir",
    "DATABASE_URL": "database_url",
    "VIGIL_PUBLIC_URL": "public_url",
    "VIGIL_LOG_FORMAT": "log_format",
    "VIGIL_SECRET_KEY": "secret_key",
    "VIGIL_AUDIT_KEY": "audit_key",
}


def load(path: str | Path | None, environ: Mapping[str, str]) -> Config:
    """Load and validate a configuration file.

    Args:
        path: the YAML file; None means VIGIL_CONFIG or config/default.yaml.
        environ: the process environment (the only place Vigil reads it).

    Raises:
        ConfigError: names the file, the key path and what was expected.
    """
    path = Path(path or environ.get("VIGIL_CONFIG") or DEFAULT_PATH)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return from_dict(raw, environ, source_file=str(path))


def from_dict(raw: dict[str, Any], environ: Mapping[str, str], source_file: str = "<memory>") -> Config:
    """Validate an already-parsed mapping (tests build configs this way).

    Every problem is found in one pass (unset variables, fields, references between names)
    and raised together, one line per key path.
    """
    unset: list[references.Problem] = []
    data = _expand(raw, environ, source_file, "", unset)
    settings = dict(data.get("settings") or {})
    for var, key in _ENV_SETTINGS.items():
        if environ.get(var):
            settings[key] = environ[var]
    if environ.get("REDIS_URL"):
        settings["automation"] = {**(settings.get("automation") or {}), "redis_url": environ["REDIS_URL"]}
    if environ.get("VIGIL_EXECUTION_BACKEND"):
        settings["automation"] = {**(settings.get("automation") or {}), "backend": environ["VIGIL_EXECUTION_BACKEND"]}
    data["settings"] = settings
    lines = references.format_problems(source_file, unset)
    config = None
    try:
        # The loader checks references itself (below), on the raw data, even when fields fail.
        config = Config.model_validate({**data, "source_file": source_file}, context={"references_checked": True})
    except ValidationError as exc:
        lines += [line for line in describe(source_file, exc, skip=[path for path, _ in unset]).splitlines()]
    lines += references.format_problems(source_file, references.problems(data)[0])
    if lines or config is None:
        raise ConfigError("\n".join(lines))
    return config


def warnings(config: Config) -> list[str]:
    """What is valid but probably not meant (a binding naming no configured detector), one line each."""
    dumped = config.model_dump(include={"sources", "detectors", "bindings", "channels", "ingest"})
    return [f"{config.source_file}: {path}: warning: {message}" for path, message in references.problems(dumped)[1]]


def _expand(
    value: Any, environ: Mapping[str, str], source_file: str, where: str, unset: list[references.Problem]
) -> Any:
    if isinstance(value, dict):
        return {
            k: _expand(v, environ, source_file, f"{where}.{k}" if where else str(k), unset) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand(v, environ, source_file, f"{where}[{i}]", unset) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _VAR.sub(lambda m: _lookup(m, environ, where, unset), value)
    return value


def _lookup(match: re.Match[str], environ: Mapping[str, str], where: str, unset: list[references.Problem]) -> str:
    """The variable's value; a problem is recorded (and "" used) when it cannot be had."""
    name, default = match.group(1), match.group(2)
    if name in environ:
        return environ[name]
    file_var = environ.get(f"{name}_FILE")
    if file_var:
        try:
            return Path(file_var).read_text(encoding="utf-8").strip()
        except OSError as exc:
            unset.append((where, f"cannot read {name}_FILE: {exc.strerror}"))
            return ""
    if default is not None:
        return default
    unset.append((where, f"environment variable {name} is not set"))
    return ""


def describe(source_file: str, exc: ValidationError, skip: Collection[str] = ()) -> str:
    """One line per error; errors at or under a `skip` path (an unset variable's) are left out."""
    return "\n".join(f"{source_file}: {loc or '(top level)'}: {msg}" for loc, msg in problems(exc, skip))


def field_errors(exc: ValidationError, root: str = "body") -> dict[str, str]:
    """{key path: message} for an API answer; an error of the whole object is keyed `root`.
    The one formatter of pydantic errors: config files, API bodies and ingest all read it."""
    out: dict[str, str] = {}
    for loc, msg in problems(exc):
        out.setdefault(loc or root, msg)
    return out


def problems(exc: ValidationError, skip: Collection[str] = ()) -> list[tuple[str, str]]:
    """(key path as the user wrote it, message) per error, secrets never echoed."""
    found = []
    for err in exc.errors():
        loc = _key_path(err["loc"])
        if any(loc == path or loc.startswith((f"{path}.", f"{path}[")) for path in skip):
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        found.append((loc, f"{msg}{_shown_input(err, loc, msg)}"))
    return found


def _shown_input(err: Any, loc: str, msg: str) -> str:
    got = err.get("input")
    if err["type"] in ("extra_forbidden", "missing") or isinstance(got, (dict, list)) or "got " in msg:
        return ""
    if _EVENT_NAME.fullmatch(loc):
        return f", got {got!r}"  # a channel's event name is no secret, and the typo is the point
    if any(word in loc.lower() for word in ("password", "token", "secret", "database_url", "channels", "audit_key")):
        return ""  # never echo a secret into a log line
    return f", got {got!r}"


_TAGS = {"prometheus", "scrape", "host", "csv", "threshold", "zscore", "changepoint", "auto", *CHANNEL_TYPES}


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _TAGS:
            continue  # pydantic adds the discriminator's tag; the user never wrote it as a key
        else:
            out += f".{part}" if out else str(part)
    return out
