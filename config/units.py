"""Typed values the YAML uses: durations like '30s' and secrets with a masked repr."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, SecretStr

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_FACTOR = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> float:
    """Return seconds for '30s', '5m', '1.5h', '2d' or a bare number of seconds.

    Raises:
        ValueError: the value is not such a duration (the message says what was expected).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like '30s', got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration like '30s', got {value!r}")
        seconds = float(match.group(1)) * _FACTOR[match.group(2)]
    if seconds < 0:
        raise ValueError(f"expected a duration like '30s', got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """'7d', '90m', '15s', '0.5s': the largest unit that divides `seconds` exactly."""
    for unit in ("w", "d", "h", "m", "s"):
        count = seconds / _FACTOR[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(lambda s: f"{s:g}s")]
"""Seconds as a float; accepts '30s', '5m', '1h', '2d', '1w' or a number of seconds."""

Secret = SecretStr
"""A value that prints as '**********' (pydantic's SecretStr); read it with .get_secret_value()."""
