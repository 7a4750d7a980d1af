"""Errors raised by the remediations library; each carries the data an API answer needs."""

from __future__ import annotations


class ManifestError(Exception):
    """A manifest or script is invalid; `field` names the offending key (e.g. "timeout_s")."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ParamsError(Exception):
    """Parameters do not fit their schema or template; `errors` maps a JSON path to a reason."""

    def __init__(self, message: str, *, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class RunnerError(Exception):
    """The runner or a backend cannot accept or start work (not a script failure)."""
