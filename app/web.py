"""Request-time access to the per-app runtime (config, database) and shared API helpers."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from flask import current_app
from flask_restx import reqparse
from sqlalchemy import Select, select

from app.db import Database
from config.schema import Config


def db() -> Database:
    database: Database = current_app.extensions["vigil.db"]
    return database


def cfg() -> Config:
    config: Config = current_app.extensions["vigil.config"]
    return config


def utc_datetime(value: str) -> datetime:
    """Query-string datetime: ISO-8601 (naive means UTC)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO-8601 time like 2026-11-01T12:00:00Z, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


utc_datetime.__schema__ = {"type": "string", "format": "date-time"}  # type: ignore[attr-defined]


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number

    parse.__schema__ = {"type": "integer", "minimum": low, "maximum": high}  # type: ignore[attr-defined]
    return parse


def page_parser() -> reqparse.RequestParser:
    """limit + cursor for newest-first keyset pagination (cursor = last id seen)."""
    parser = reqparse.RequestParser(bundle_errors=True)
    parser.add_argument("limit", type=bounded_int(1, 500), default=50, location="args")
    parser.add_argument("cursor", type=bounded_int(1, 2**31 - 1), location="args")
    return parser


def newest_first(model: Any, args: dict[str, Any], *conditions: Any, **equal: Any) -> Select[Any]:
    """A keyset page of `model` rows, newest first: limit+1 rows below the cursor, filtered by
    the given conditions and by equality on every keyword whose value was given."""
    stmt = select(model).order_by(model.id.desc()).limit(args["limit"] + 1)
    if args.get("cursor"):
        stmt = stmt.where(model.id < args["cursor"])
    for key, value in equal.items():
        if value not in (None, ""):
            stmt = stmt.where(getattr(model, key) == value)
    return stmt.where(*conditions) if conditions else stmt


def page(items: list[Any], limit: int) -> tuple[list[Any], int | None]:
    """Trim a limit+1 query result to a page and say where the next one starts."""
    if len(items) > limit:
        items = items[:limit]
        return items, items[-1].id
    return items, None
