"""Execution backends: where a RunRequest runs."""

from remediations.backends.base import Backend
from remediations.backends.inline import InlineBackend

__all__ = ["Backend", "InlineBackend"]
