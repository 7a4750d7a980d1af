"""Silences in the dashboard: the list, a create form with a live preview, expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.alerts import service as alerts
from app.dashboard.blueprint import bp, object_id, perform
from app.dashboard.display import utc
from app.dashboard.filters import PAGE_SIZE, bad, positive_int, when
from app.dashboard.session import actor, current_user, require
from app.db import utcnow
from app.errors import BadRequestError
from app.silences import service
from app.silences.models import Silence
from app.web import cfg, db, newest_first, page
from config.units import parse_duration

DURATIONS = ("1h", "2h", "4h", "8h", "24h", "3d", "7d")
MAX_MATCHERS = 20


@bp.get("/silences")
def silences() -> Any:
    """The silences page: the active ones (or all with ?show=all), newest first."""
    show = request.args.get("show", "active")
    if show not in ("active", "all"):
        bad(f"show must be active or all; got {show[:40]!r}")
    now = utcnow()
    cursor = positive_int(request.args.get("cursor"), "cursor")
    active = (Silence.starts_at <= now, Silence.ends_at > now) if show == "active" else ()
    with db().read() as s:
        rows, next_cursor = page(
            list(s.scalars(newest_first(Silence, {"limit": PAGE_SIZE, "cursor": cursor}, *active))), PAGE_SIZE
        )
    return render_template("dashboard/silences.html", silences=rows, show=show, next_cursor=next_cursor, cursor=cursor)


@bp.get("/silences/new")
def silence_new() -> Any:
    """The create form; `?alert=<id>` fills in that alert's detector and labels."""
    rows: list[dict[str, str]] = []
    alert_id = request.args.get("alert")
    if alert_id:
        with db().read() as s:
            alert = alerts.get(s, object_id(alert_id, "alert"))
            rows = [{"name": k, "op": "=", "value": v} for k, v in service.alert_labels(alert).items()]
    else:
        rows = _form_rows(request.args)
    return render_template(
        "dashboard/silence_new.html",
        rows=rows + [{"name": "", "op": "=", "value": ""}] * 2,
        ops=service.OPS,
        durations=DURATIONS,
        form=request.args,
        alert_id=alert_id,
    )


@bp.post("/silences")
@require("operator")
def silence_create() -> Response:
    """Create a silence from the posted matchers and period; the form again with the reason when refused."""
    form = request.form
    now = utcnow()
    try:
        matchers = service.parse_matchers(_form_rows(form))
        if not matchers:
            raise BadRequestError("add at least one matcher", {})
        starts_at = when(form, "starts_at") or now
        ends_at = when(form, "ends_at") or starts_at + timedelta(seconds=_duration_s(form))
        user = current_user()
        with db().write() as s:
            silence = service.create(
                s,
                matchers=matchers,
                starts_at=starts_at,
                ends_at=ends_at,
                comment=form.get("comment", "").strip()[:2000],
                by=actor(),
                is_admin=bool(user and user.has("admin")),
                max_duration_s=cfg().settings.silences.max_duration,
                now=now,
            )
    except BadRequestError as exc:  # shown on the form again, with what was typed
        return Response(
            render_template(
                "dashboard/silence_new.html",
                rows=_form_rows(form) + [{"name": "", "op": "=", "value": ""}],
                ops=service.OPS,
                durations=DURATIONS,
                form=form,
                error=exc.message,
                alert_id=form.get("alert"),
            ),
            status=400,
        )
    flash(f"Silence {silence.id} created until {utc(silence.ends_at)}.", "ok")
    return redirect(url_for("dashboard.silences"))


@bp.post("/silences/<silence_id>/expire")
@require("operator")
def silence_expire(silence_id: str) -> Response:
    """End the silence now, then go back to the silences page."""
    number = object_id(silence_id, "silence")
    return perform(
        lambda s, by, now: service.expire(s, silence_id=number, by=by, now=now),
        f"Silence {number} expired.",
        url_for("dashboard.silences"),
    )


@bp.get("/silences/preview.json")
def silence_preview_json() -> Any:
    """What the create form shows as you type: the open alerts these matchers would silence."""
    try:
        matchers = service.parse_matchers(_form_rows(request.args))
    except BadRequestError as exc:
        return jsonify({"message": exc.message}), 400
    user = current_user()
    with db().read() as s:
        found = service.preview(s, matchers) if matchers else service.Preview([], 0, True)
        items = [
            {
                "id": a.id,
                "detector": a.detector,
                "labels": a.labels,
                "severity": a.severity,
                "state": a.state,
                "url": url_for("dashboard.alert", alert_id=a.id),
            }
            for a in found.alerts
        ]
    reason = service.refusal(matchers, role=user.role if user else None) if matchers else "add a matcher"
    return jsonify(
        {"items": items, "total": found.total, "complete": found.complete, "allowed": not reason, "reason": reason}
    )


def _form_rows(form: "MultiDict[str, str] | Any") -> list[dict[str, str]]:
    """The form's matcher rows (m_name, m_op, m_value, repeated); blank rows are skipped."""
    names, ops, values = form.getlist("m_name"), form.getlist("m_op"), form.getlist("m_value")
    if not len(names) == len(ops) == len(values):
        bad("each matcher needs a name, an operator and a value")
    rows = [{"name": n.strip(), "op": o, "value": v} for n, o, v in zip(names, ops, values) if n.strip() or v]
    if len(rows) > MAX_MATCHERS:
        bad(f"at most {MAX_MATCHERS} matchers")
    return rows


def _duration_s(form: Any) -> float:
    value = form.get("duration", "2h")
    if value not in DURATIONS:
        raise BadRequestError(f"duration must be one of {', '.join(DURATIONS)} (or give an end time)", {})
    return parse_duration(value)
