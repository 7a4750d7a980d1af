"""Inbound alerts: store first (answer the sender fast), process after, exactly once."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from app.alerts import service as alerts
from app.errors import BadRequestError
from app.ingest import payloads
from app.ingest.models import InboxItem
from app.reactions import react
from config.schema import Config, IngestEndpoint, IngestSettings

log = logging.getLogger("vigil.ingest")
MAX_ERROR_CHARS = 2000
MAX_SKEW_S = 300  # how old a signed request's timestamp may be (replays of older ones are refused)


def authenticated(
    endpoint: IngestEndpoint, *, authorization: str, signature: str, stamp: str, body: bytes, now_s: float
) -> bool:
    """A bearer token equal to the endpoint's, or an HMAC-SHA256 signature of "<timestamp>.<body>"
    with its secret, the timestamp within MAX_SKEW_S of now (both compared in constant time)."""
    if endpoint.token and authorization.lower().startswith("bearer "):
        if hmac.compare_digest(authorization[7:].strip().encode(), endpoint.token.get_secret_value().encode()):
            return True
    if not (endpoint.hmac_secret and signature.startswith("sha256=") and stamp.isdigit()):
        return False
    if abs(now_s - int(stamp)) > MAX_SKEW_S:
        return False
    key = endpoint.hmac_secret.get_secret_value().encode()
    expected = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature[7:], expected)


def admit(items: list[dict[str, Any]], limits: IngestSettings) -> list[dict[str, Any]]:
    """The batch to store: within the configured bounds, one item per dedup key (the last wins).

    Raises:
        BadRequestError: too many alerts, or one over the label/annotation bounds (nothing is stored).
    """
    if len(items) > limits.max_alerts_per_request:
        raise BadRequestError(
            f"at most {limits.max_alerts_per_request} alerts per request",
            {"alerts": f"{len(items)} > {limits.max_alerts_per_request}"},
        )
    too_big = payloads.over_limits(items, limits)
    if too_big:
        raise BadRequestError("alerts over the configured bounds; nothing was stored", too_big)
    return list({i["dedup_key"]: i for i in items}.values())


def store(connection: Connection, items: Sequence[dict[str, Any]], *, now: datetime) -> int:
    """Insert the batch; duplicates of stored items are skipped. Returns how many were new."""
    if not items:
        return 0
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    rows = [{"dedup_key": i["dedup_key"], "source": i["source"], "received_at": now, "item": i} for i in items]
    # One statement with the rows as parameters (SQLAlchemy sends them as a multi-row INSERT):
    # it compiles once per process, where .values(rows) compiled anew on every request.
    stmt = insert(cast(Table, InboxItem.__table__)).on_conflict_do_nothing(index_elements=["dedup_key"])
    # rowcount is not reliable for multi-row inserts on every driver; RETURNING is.
    return len(connection.execute(stmt.returning(InboxItem.id), rows).all())


def process(session: Session, config: Config, *, now: datetime, limit: int = 500) -> tuple[int, int]:
    """Apply stored items to the alert lifecycle in arrival order.

    The batch is applied in one savepoint. If it fails, each item gets its own, so an item
    that cannot be applied (text PostgreSQL refuses, a malformed row) is quarantined with
    its error and the others go on; otherwise it would fail every later batch for good.
    A database that is away is no item's fault: that error is raised and the batch waits.

    Returns:
        (items processed or quarantined, executions queued to run now).
    """
    rows = session.scalars(
        select(InboxItem).where(InboxItem.processed_at.is_(None)).order_by(InboxItem.id).limit(limit)
    ).all()
    if not rows:
        return 0, 0  # the common idle pass: no savepoint round trips
    try:
        with session.begin_nested():
            return len(rows), sum(_apply(session, row, config, now) for row in rows)
    except Exception as exc:  # noqa: BLE001 - sorted out below, item by item
        if _database_away(exc):
            raise
    queued = 0
    for row in rows:
        try:
            with session.begin_nested():
                queued += _apply(session, row, config, now)
        except Exception as exc:  # noqa: BLE001 - quarantine this item, keep going
            if _database_away(exc):
                raise
            _quarantine(row, exc, now)
    return len(rows), queued


def _apply(session: Session, row: InboxItem, config: Config, now: datetime) -> int:
    transitions = alerts.apply_external(session, row.item, now=now, grouping=config.settings.incidents)
    queued = react(session, transitions, now=now, config=config)
    row.processed_at = now
    return queued


def _database_away(exc: BaseException) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _quarantine(row: InboxItem, exc: Exception, now: datetime) -> None:
    row.processed_at, row.error = now, describe(exc)
    log.warning("ingest inbox item quarantined", extra={"inbox_item": row.id, "source": row.source, "error": row.error})


def describe(exc: BaseException) -> str:
    """The error in a line any database can store: the driver's message, not the SQL and its values."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = f"{type(cause).__name__}: {cause}".splitlines()[0] if str(cause) else type(cause).__name__
    # The error may quote the very text that was refused (a NUL, a lone surrogate).
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()[:MAX_ERROR_CHARS]
