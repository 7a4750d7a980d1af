"""Request-time access to the per-app runtime (config, database), the checks every request's
input passes (JSON bodies, query strings, forms, path values) and shared API helpers."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Callable, NoReturn

from flask import Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask_restx import reqparse
from sqlalchemy import Select, select
from werkzeug.exceptions import BadRequest

from app.db import Database
from app.db import page as page  # the edges page as the services do
from app.errors import invalid
from config.schema import Config

# Deeper JSON than this is refused: nothing Vigil takes nests more than a few levels, and a
# deep body can exhaust Python's recursion in whatever walks it later (RecursionError, 500).
MAX_JSON_DEPTH = 64


def db() -> Database:
    """The app's Database (valid only during a request or in an app context)."""
    database: Database = current_app.extensions["vigil.db"]
    return database


def cfg() -> Config:
    """The app's Config (valid only during a request or in an app context)."""
    config: Config = current_app.extensions["vigil.config"]
    return config


def unstorable(text: str) -> str | None:
    """Why no database can store this text as given (None if it can): PostgreSQL refuses NUL
    in text, and a lone surrogate (JSON may escape one, \\ud800) is not valid UTF-8."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (invalid Unicode), which cannot be stored"
    return None


def refuse_unstorable_input() -> None:
    """Before every request: query-string, form and path values must be storable text
    (they end up in rows and in queries; PostgreSQL answered a NUL in ?actor= with a 500)."""
    pairs: list[tuple[str, Any]] = [*request.args.items(multi=True), *(request.view_args or {}).items()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request.mimetype == "application/x-www-form-urlencoded":
            request.get_data(cache=True)  # kept: a signed form (a Slack button press) is verified over its bytes
        pairs += request.form.items(multi=True)
    for name, value in pairs:
        reason = unstorable(name) or (unstorable(value) if isinstance(value, str) else None)
        if reason:
            field = json.dumps(name)[1:-1]  # escaped: the name itself may hold the NUL
            raise invalid(f"{field}: {reason}", {field: reason})


class UnsafeBodyError(ValueError):
    """A JSON body that parses but must not be used; `field` is its path (alerts[0].value)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason if field == "body" else f"{field}: {reason}")
        self.field, self.reason = field, reason


class BodyJSONProvider(DefaultJSONProvider):
    """The app's JSON (Flask parses request bodies with it): Python's parser, minus what
    makes trouble later. Answers are written as before."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:
            return super().loads(s, **kwargs)
        odd: list[str] = []  # NaN, Infinity and numbers that overflow to infinity (1e999)

        def number(token: str) -> float:
            value = float(token)
            if not math.isfinite(value):
                odd.append(token)
            return value

        def constant(token: str) -> float:
            odd.append(token)
            return float(token)

        try:
            value = json.loads(s, parse_float=number, parse_constant=constant)
        except RecursionError:
            raise UnsafeBodyError("body", f"nested deeper than {MAX_JSON_DEPTH} levels") from None
        raw = s.encode("utf-8", "surrogatepass") if isinstance(s, str) else s
        # The walk costs more than parsing; run it only when the raw body could hold trouble:
        # an escape (\u0000, \ud800), raw non-ASCII bytes, an odd number, or enough brackets.
        if odd or b"\\u" in raw or not raw.isascii() or raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH:
            problem = next(_problems(value), None)
            if problem:
                raise UnsafeBodyError(*problem)
        return value


def _problems(root: Any) -> Iterator[tuple[str, str]]:
    """(path, reason) for each unusable value: deep nesting, unstorable text, a non-finite number."""
    stack: list[tuple[str, Any, int]] = [("", root, 0)]
    while stack:
        path, value, depth = stack.pop()
        if isinstance(value, str):
            reason = unstorable(value)
            if reason:
                yield path or "body", reason
        elif isinstance(value, float) and not math.isfinite(value):
            yield path or "body", "must be a finite number (NaN, Infinity and 1e999 are not)"
        elif isinstance(value, (dict, list)):
            if depth >= MAX_JSON_DEPTH:
                yield path or "body", f"nested deeper than {MAX_JSON_DEPTH} levels"
                continue
            if isinstance(value, list):
                stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(value))
                continue
            for key, v in value.items():
                name = json.dumps(key)[1:-1]  # escaped: a NUL in a key shows as \u0000
                where = f"{path}.{name}" if path else name
                reason = unstorable(key)
                if reason:
                    yield where, f"this name {reason}"
                stack.append((where, v, depth + 1))


class JSONRequest(Request):
    """Bodies are parsed by the app's BodyJSONProvider; its refusals name the field."""

    def on_json_loading_failed(self, e: ValueError | None) -> NoReturn:
        if e is None:
            raise BadRequest("request body must be JSON (Content-Type: application/json)")
        if isinstance(e, UnsafeBodyError):
            raise invalid(f"request body: {e}", {e.field: e.reason})
        raise invalid(f"request body is not valid JSON: {e}", {"body": f"not valid JSON: {e}"})


def utc_datetime(value: str) -> datetime:
    """Query-string datetime: ISO-8601 (naive means UTC), within what UTC can represent."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # Year 1 at +05:00 or 9999 at -05:00 has no UTC time: comparing it would overflow.
        return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        raise ValueError(f"expected an ISO-8601 time like 2026-11-01T12:00:00Z, got {value!r}") from None


utc_datetime.__schema__ = {"type": "string", "format": "date-time"}  # type: ignore[attr-defined]


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """A request-argument type: a whole number in [low, high], else a ValueError that says why."""

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
