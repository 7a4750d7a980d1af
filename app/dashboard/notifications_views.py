"""The notification outbox: what was sent, what waits, what failed and why; retry a failed one."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from sqlalchemy import select

from app.dashboard.blueprint import bp, object_id, perform
from app.dashboard.exports_views import export
from app.dashboard.filters import PAGE_SIZE, choice, positive_int, text
from app.dashboard.session import require
from app.notify import outbox
from app.notify.models import OutboxMessage
from app.web import cfg, db, page


def _filters() -> tuple[dict[str, Any], list[Any]]:
    state, channel = choice(request.args, "state", outbox.STATES), text(request.args, "channel")
    event, alert_id = text(request.args, "event"), positive_int(request.args.get("alert_id"), "alert_id")
    found = {"state": state, "channel": channel, "event": event, "alert_id": alert_id}
    return (
        {k: v for k, v in found.items() if v},
        outbox.conditions(state=state, channel=channel, event=event, alert_id=alert_id),
    )


@bp.get("/notifications")
def notifications() -> Any:
    """The notifications page: a page of outbox messages (filtered by state, channel, event, alert), newest first."""
    filters, conditions = _filters()
    cursor = positive_int(request.args.get("cursor"), "cursor")
    stmt = select(OutboxMessage).where(*conditions).order_by(OutboxMessage.id.desc()).limit(PAGE_SIZE + 1)
    if cursor:
        stmt = stmt.where(OutboxMessage.id < cursor)
    with db().read() as s:
        rows, next_cursor = page(list(s.scalars(stmt)), PAGE_SIZE)
    return render_template(
        "dashboard/notifications.html",
        messages=rows,
        next_cursor=next_cursor,
        filters=filters,
        states=outbox.STATES,
        channels=[c.name for c in cfg().channels],
    )


@bp.get("/notifications.csv")
def notifications_csv() -> Any:
    """The notifications list as CSV, with the page's filters."""
    return export("notifications", OutboxMessage, _filters()[1], outbox.COLUMNS)


@bp.post("/notifications/<message_id>/retry")
@require("operator")
def notification_retry(message_id: str) -> Any:
    """Send a failed notification again (it goes back to pending); a conflict is shown as a message."""
    number = object_id(message_id, "notification")
    return perform(
        lambda s, by, now: outbox.retry(s, cfg(), message_id=number, by=by, now=now),
        f"Notification {number} will be sent again shortly.",
        url_for("dashboard.notifications"),
    )
