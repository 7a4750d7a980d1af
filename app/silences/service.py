"""Silences and maintenance windows with Alertmanager's matcher semantics (=, !=, =~, !~)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import OPEN_STATES, Alert
from app.db import get_or_404, utcnow
from app.errors import BadRequestError, ConflictError
from app.events import Event, publish
from app.silences.models import Silence
from config import matchers as label_matchers

OPS = label_matchers.OPS
# One matcher for silences, bindings, channels and the alert filters (a missing label is "").
Matcher = label_matchers.Matcher


def parse_matchers(raw: Any) -> list[Matcher]:
    """Validate [{"name", "op", "value"}]; errors name the index and field."""
    if not isinstance(raw, list):
        raise BadRequestError("matchers must be a list", {"matchers": "expected a list of {name, op, value}"})
    out = []
    for i, item in enumerate(raw):
        where = f"matchers[{i}]"
        if not isinstance(item, dict) or set(item) - {"name", "op", "value"}:
            raise BadRequestError(f"{where}: expected {{name, op, value}}", {where: "expected {name, op, value}"})
        name, op, value = item.get("name"), item.get("op", "="), item.get("value")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise BadRequestError(f"{where}.name: expected a label name", {f"{where}.name": "expected a label name"})
        if op not in OPS:
            raise BadRequestError(f"{where}.op: expected one of {', '.join(OPS)}", {f"{where}.op": f"got {op!r}"})
        if not isinstance(value, str):
            raise BadRequestError(f"{where}.value: expected a string", {f"{where}.value": "expected a string"})
        try:
            out.append(Matcher.validated(name, op, value))
        except label_matchers.MatcherError as exc:
            raise BadRequestError(f"{where}.value: {exc}", {f"{where}.value": str(exc)}) from None
    return out


def is_targeted(matchers: Sequence[Matcher]) -> bool:
    """Whether some matcher names one value of one label (`service=api`).

    Negative and regex matchers alone can reach every alert (`detector!=x` did), and no probe
    can tell a regex that matches "nearly everything" from one that does not; an equality on
    a non-empty value cannot match an alert that lacks that label value.
    """
    return any(m.op == "=" and m.value for m in matchers)


UNTARGETED = (
    "a silence needs at least one matcher of the form name=value (only an admin may silence by "
    "negative or regex matchers alone)"
)


def refusal(matchers: Sequence[Matcher], *, role: str | None) -> str:
    """Why a caller of this role may not create a silence with these matchers ("" if they may)."""
    if role not in ("operator", "admin"):
        return "creating a silence needs the operator role"
    if role != "admin" and not is_targeted(matchers):
        return UNTARGETED
    return ""


def create(
    session: Session,
    *,
    matchers: list[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    by: str,
    is_admin: bool,
    max_duration_s: float,
    now: datetime,
) -> Silence:
    """Add a silence and audit it. Raises BadRequestError (naming the field) without a comment, when it
    ends before it starts or in the past, lasts longer than max_duration_s, or a non-admin gives no
    name=value matcher (see is_targeted)."""
    if not comment.strip():
        raise BadRequestError("comment is required: say why alerts are silenced", {"comment": "required"})
    if ends_at <= starts_at:
        raise BadRequestError("ends_at must be after starts_at", {"ends_at": "must be after starts_at"})
    if ends_at <= now:
        raise BadRequestError("ends_at is in the past", {"ends_at": "must be in the future"})
    if (ends_at - starts_at).total_seconds() > max_duration_s:
        raise BadRequestError(
            f"a silence may last at most {timedelta(seconds=max_duration_s)}",
            {"ends_at": f"longer than the maximum of {max_duration_s:g}s"},
        )
    if not is_admin and not is_targeted(matchers):
        raise BadRequestError(
            UNTARGETED,
            {
                "matchers": "needs an equality matcher with a non-empty value; without one it "
                "matches everything it does not exclude"
            },
        )
    silence = Silence(
        matchers=[m.__dict__ for m in matchers],
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=now,
        created_by=by,
        comment=comment,
    )
    session.add(silence)
    session.flush()
    publish(
        session,
        [
            Event(
                "silence.create",
                utcnow(),
                actor=by,
                target=f"silence:{silence.id}",
                details={
                    "matchers": silence.matchers,
                    "starts_at": starts_at.isoformat(),
                    "ends_at": ends_at.isoformat(),
                    "comment": comment,
                },
            )
        ],
    )
    return silence


def expire(session: Session, *, silence_id: int, by: str, now: datetime) -> Silence:
    """End a silence now, keeping it in history, and audit it. Raises ConflictError when it has already
    ended, NotFoundError when there is no such silence."""
    silence = get_or_404(session, Silence, silence_id, "silence")
    if silence.ends_at <= now:
        raise ConflictError(f"silence {silence_id} has already ended")
    silence.ends_at, silence.expired_by = now, by
    publish(session, [Event("silence.expire", utcnow(), actor=by, target=f"silence:{silence_id}")])
    return silence


def active(session: Session, now: datetime) -> Sequence[Silence]:
    """The silences in force at `now`, oldest first."""
    return session.scalars(
        select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now).order_by(Silence.id)
    ).all()


def silenced_by(session: Session, labels: Mapping[str, str], now: datetime) -> Silence | None:
    """The first active silence whose matchers all match these labels."""
    for silence in active(session, now):
        if label_matchers.matches(label_matchers.from_dicts(silence.matchers), labels):
            return silence
    return None


def alert_labels(alert: Alert) -> dict[str, str]:
    """What matchers see of an alert: its labels plus `detector` (as reactions checks them)."""
    return {**alert.labels, "detector": alert.detector}


@dataclass(frozen=True)
class Preview:
    """What a silence with some matchers would silence now (see preview)."""

    alerts: list[Alert]  # the newest matching open alerts, at most `limit`
    total: int  # how many open alerts match (of those scanned)
    complete: bool  # False when more open alerts exist than were scanned


def preview(session: Session, matchers: Sequence[Matcher], *, limit: int = 50, scan: int = 10_000) -> Preview:
    """Which open (pending or firing) alerts a silence with these matchers would silence now."""
    rows = session.scalars(
        select(Alert).where(Alert.state.in_(OPEN_STATES)).order_by(Alert.id.desc()).limit(scan + 1)
    ).all()
    found = [a for a in rows[:scan] if label_matchers.matches(matchers, alert_labels(a))]
    return Preview(found[:limit], len(found), len(rows) <= scan)
