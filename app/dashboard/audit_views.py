"""The audit trail with filters, and whether its hash chain still verifies."""
from __future__ import annotations

from typing import Any

from flask import render_template, request
from sqlalchemy import select

from app.audit import service
from app.audit.models import AuditRecord
from app.dashboard.blueprint import bp
from app.dashboard.filters import PAGE_SIZE, bad, positive_int, text, when
from app.web import db, page


@bp.get("/audit")
def audit() -> Any:
    filters = {key: text(request.args, key) for key in ("actor", "action", "target", "since", "until")}
    since, until = when(request.args, "since"), when(request.args, "until")
    if since and until and since >= until:
        bad("since must be earlier than until")
    cursor = positive_int(request.args.get("cursor"), "cursor")
    stmt = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(PAGE_SIZE + 1)
    for key in ("actor", "action", "target"):
        if filters[key]:
            stmt = stmt.where(getattr(AuditRecord, key) == filters[key])
    if since:
        stmt = stmt.where(AuditRecord.at >= since)
    if until:
        stmt = stmt.where(AuditRecord.at < until)
    if cursor:
        stmt = stmt.where(AuditRecord.id < cursor)
    with db().read() as s:
        rows, next_cursor = page(list(s.scalars(stmt)), PAGE_SIZE)
        # The walk reads the whole chain, so only the first page pays for it.
        verification = None if cursor else service.verify(s)
    return render_template("dashboard/audit.html", records=rows, next_cursor=next_cursor,
                           filters={k: v for k, v in filters.items() if v}, verification=verification)
