"""The audit trail with filters, and whether its hash chain still verifies."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from app.audit import service
from app.dashboard.blueprint import bp
from app.dashboard.filters import PAGE_SIZE, bad, positive_int, text, when
from app.web import db


def audit_query() -> tuple[dict[str, str], service.AuditQuery]:
    """The audit list's filters from the URL, as typed, and as the service's query (page and CSV share it)."""
    filters = {key: text(request.args, key) for key in ("actor", "action", "target", "since", "until")}
    since, until = when(request.args, "since"), when(request.args, "until")
    if since and until and since >= until:
        bad("since must be earlier than until")
    query = service.AuditQuery(
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        target=filters["target"] or None,
        since=since,
        until=until,
        cursor=positive_int(request.args.get("cursor"), "cursor"),
        limit=PAGE_SIZE,
    )
    return {k: v for k, v in filters.items() if v}, query


@bp.get("/audit")
def audit() -> Any:
    """The audit page: a filtered page of records, newest first; the first page also verifies the chain."""
    filters, query = audit_query()
    cursor = query.cursor
    with db().read() as s:
        rows, next_cursor = service.search(s, query)
        # The walk reads the whole chain, so only the first page pays for it.
        verification = None if cursor else service.verify(s)
    return render_template(
        "dashboard/audit.html", records=rows, next_cursor=next_cursor, filters=filters, verification=verification
    )
