"""Parse a rehearsal request: a binding spec (the create schema) plus `since`/`until`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from app.errors import BadRequestError
from app.web import utc_datetime
from config.loader import field_errors
from config.schema import BindingConfig
from config.units import parse_duration


def binding_spec(raw: Any) -> BindingConfig:
    """The same validation and 400 shape as creating a binding."""
    if not isinstance(raw, dict):
        raise BadRequestError("expected a binding object", {"body": "expected an object"})
    try:
        return BindingConfig.model_validate(raw)
    except ValidationError as exc:
        raise BadRequestError("invalid binding", field_errors(exc)) from None


def moment(value: Any, field: str, now: datetime) -> datetime | None:
    """An ISO-8601 time, or a duration before now ('30d', '12h'); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequestError(
            f"{field}: expected an ISO-8601 time or a duration like 30d",
            {field: "expected an ISO-8601 time or a duration like 30d"},
        )
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    except OverflowError:  # "99999999999d": before any time there is
        raise BadRequestError(f"{field}: too far in the past", {field: "too far in the past"}) from None
    try:
        return utc_datetime(value)
    except ValueError as exc:
        raise BadRequestError(f"{field}: {exc}", {field: f"{exc}, or a duration like 30d"}) from None
