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


def audit_conditions() -> tuple[dict[str, str], list[Any]]:
    """The audit list's filters from the URL, and their WHERE clauses (page and CSV share them)."""
    filters = {key: text(request.args, key) for key in ("actor", "action", "target", "since", "until")}
    since, until = when(request.args, "since"), when(request.args, "until")
    if since and until and since >= until:
        bad("since must be earlier than until")
    conditions = [getattr(AuditRecord, key) == filters[key] for key in ("actor", "action", "target") if filters[key]]
    if since:
        conditions.append(AuditRecord.at >= since)
    if until:
        conditions.append(AuditRecord.at < until)
    return {k: v for k, v in filters.items() if v}, conditions


@bp.get("/audit")
def audit() -> Any:
    """The audit page: a filtered page of records, newest first; the first page also verifies the chain."""
    filters, conditions = audit_conditions()
    cursor = positive_int(request.args.get("cursor"), "cursor")
    stmt = select(AuditRecord).where(*conditions).order_by(AuditRecord.id.desc()).limit(PAGE_SIZE + 1)
    if cursor:
        stmt = stmt.where(AuditRecord.id < cursor)
    with db().read() as s:
        rows, next_cursor = page(list(s.scalars(stmt)), PAGE_SIZE)
        # The walk reads the whole chain, so only the first page pays for it.
        verification = None if cursor else service.verify(s)
    return render_template(
        "dashboard/audit.html", records=rows, next_cursor=next_cursor, filters=filters, verification=verification
    )
