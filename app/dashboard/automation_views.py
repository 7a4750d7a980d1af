"""Remediations, their versions and stats, bindings (with their rehearsal or shadow record),
executions, and the pause switch."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from app.automation import bindings as binding_service
from app.automation import registry, service
from app.automation.models import ACTIVE_STATES, FINAL_STATES, Binding
from app.dashboard import binding_form
from app.dashboard.blueprint import bp, object_id, perform
from app.dashboard.filters import PAGE_SIZE, choice, positive_int, text
from app.dashboard.session import actor, require
from app.db import utcnow
from app.errors import BadRequestError, ServiceError
from app.rehearsal import replay, shadow, spec, timeline
from app.rehearsal import service as service_rehearsal
from app.rehearsal.replay import Rehearsed
from app.web import cfg, db

EXECUTION_STATES = (*ACTIVE_STATES, *FINAL_STATES)
LISTED_DECISIONS = 50  # the first runs and skips listed under a timeline (the counts cover all)


@bp.get("/remediations")
def remediations() -> Any:
    """The remediations page: every registered remediation with its run counts, and every binding."""
    with db().read() as s:
        rows = registry.list_all(s)
        stats = {r.name: service.stats(s, r.name) for r in rows}
        bindings = binding_service.list_all(s)
    return render_template("dashboard/remediations.html", remediations=rows, stats=stats, bindings=bindings)


@bp.get("/remediations/<name>")
def remediation(name: str) -> Any:
    """One remediation's page: its versions (newest first), run counts and the bindings that use it."""
    with db().read() as s:
        row = registry.get(s, name)
        versions = list(reversed(registry.versions(s, row)))
        stats = service.stats(s, name)
        bindings = list(s.scalars(select(Binding).where(Binding.remediation == name).order_by(Binding.id)))
    return render_template(
        "dashboard/remediation.html", remediation=row, versions=versions, stats=stats, bindings=bindings
    )


@bp.get("/remediations/<name>/versions/<number>")
def version(name: str, number: str) -> Any:
    """One stored version of a remediation: its script and settings (timeout, concurrency, params schema)."""
    with db().read() as s:
        row = registry.version(s, name, object_id(number, f"version of {name}"))
    return render_template("dashboard/version.html", name=name, version=row)


@bp.post("/bindings/<binding_id>/close-breaker")
@require("operator")
def close_breaker(binding_id: str) -> Any:
    """Close the binding's open circuit breaker so it may run again, then go back to the remediations page."""
    number = object_id(binding_id, "binding")
    return perform(
        lambda s, by, _now: binding_service.close_breaker(s, binding_id=number, by=by),
        f"Breaker of binding {number} closed.",
        url_for("dashboard.remediations"),
    )


def execution_query() -> tuple[dict[str, Any], service.ExecutionQuery]:
    """The executions list's filters from the URL, as given, and as the service's query (page and CSV share it)."""
    state = choice(request.args, "state", EXECUTION_STATES)
    remediation_name = text(request.args, "remediation")
    alert_id = positive_int(request.args.get("alert_id"), "alert_id")
    filters = {k: v for k, v in (("state", state), ("remediation", remediation_name), ("alert_id", alert_id)) if v}
    cursor = positive_int(request.args.get("cursor"), "cursor")
    query = service.ExecutionQuery(
        state=state or None, remediation=remediation_name or None, alert_id=alert_id, cursor=cursor, limit=PAGE_SIZE
    )
    return filters, query


@bp.get("/executions")
def executions() -> Any:
    """The executions page: a filtered page of executions, newest first."""
    filters, query = execution_query()
    with db().read() as s:
        rows, next_cursor = service.search_executions(s, query)
    return render_template(
        "dashboard/executions.html", executions=rows, next_cursor=next_cursor, filters=filters, states=EXECUTION_STATES
    )


@bp.get("/executions/<execution_id>")
def execution(execution_id: str) -> Any:
    """One execution's page: its state, parameters, times, exit code and output (polled while it runs)."""
    with db().read() as s:
        row = service.get_execution(s, object_id(execution_id, "execution"))
    return render_template("dashboard/execution.html", execution=row, active_states=ACTIVE_STATES)


def _execution_action(verb: str) -> Any:
    action = getattr(service, verb)

    @require("operator")
    def view(execution_id: str) -> Any:
        number = object_id(execution_id, "execution")
        return perform(
            lambda s, by, now: action(s, execution_id=number, by=by, now=now, config=cfg()),
            f"Execution {number}: {verb} done.",
            url_for("dashboard.execution", execution_id=number),
        )

    view.__name__ = f"execution_{verb}"
    return view


for _verb in ("approve", "reject", "cancel"):
    bp.add_url_rule(f"/executions/<execution_id>/{_verb}", view_func=_execution_action(_verb), methods=["POST"])


@bp.post("/automation/<switch>")
@require("operator")
def automation(switch: str) -> Any:
    """Pause or resume all automatic remediation (with an optional reason); 404 for any other switch."""
    if switch not in ("pause", "resume"):
        return render_template(
            "dashboard/error.html", status=404, title="Not Found", message=f"no automation action {switch[:40]!r}"
        ), 404
    paused = switch == "pause"
    reason = request.form.get("reason", "").strip()[:1000]
    return perform(
        lambda s, by, now: service.set_paused(s, paused=paused, by=by, now=now, reason=reason),
        "Automation paused: nothing runs automatically until resumed." if paused else "Automation resumed.",
        url_for("dashboard.remediations"),
    )


@bp.get("/bindings/new")
@require("admin")
def binding_new() -> Any:
    """An empty binding form (remediation preset from ?remediation=)."""
    return _binding_form(None, binding_form.defaults(request.args.get("remediation", "")[:63]), {})


@bp.post("/bindings")
@require("admin")
def binding_create() -> Any:
    """Checked by bindings.parse and created by bindings.create, as POST /api/v1/bindings is."""
    return _binding_save(None)


@bp.get("/bindings/<binding_id>/edit")
@require("admin")
def binding_edit(binding_id: str) -> Any:
    """The binding's form, filled with its current settings."""
    with db().read() as s:
        row = binding_service.get(s, object_id(binding_id, "binding"))
    return _binding_form(row, binding_form.values(row), {})


@bp.post("/bindings/<binding_id>/edit")
@require("admin")
def binding_update(binding_id: str) -> Any:
    """Replace the binding's settings from the posted form (as PUT /api/v1/bindings/<id>); the form
    again with each refused field's reason when they are not accepted."""
    with db().read() as s:
        row = binding_service.get(s, object_id(binding_id, "binding"))
    return _binding_save(row)


def _binding_save(row: Binding | None) -> Any:
    payload, errors = binding_form.payload(request.form)
    if row is not None:
        payload["name"] = row.name  # the name is the binding's identity in the audit trail
    status = 400
    if not errors:
        try:
            spec = binding_service.parse(payload)
            with db().write() as s:
                if row is None:
                    number = binding_service.create(s, spec=spec, by=actor(), now=utcnow(), origin="dashboard").id
                else:
                    number = binding_service.update(s, binding_id=row.id, spec=spec, by=actor(), now=utcnow()).id
            flash(f"Binding {spec.name} {'created' if row is None else 'saved'}.", "ok")
            return redirect(url_for("dashboard.binding", binding_id=number))
        except ServiceError as exc:  # refused input (400), a taken name or a config binding (409)
            errors, status = exc.errors or {"$": exc.message}, exc.status
    return _binding_form(row, binding_form.posted(request.form), errors, status)


def _binding_form(row: Binding | None, shown: dict[str, Any], errors: dict[str, str], status: int = 200) -> Any:
    by_input, general = binding_form.split(errors)
    with db().read() as s:
        names = [r.name for r in registry.list_all(s)]
    return render_template(
        "dashboard/binding_form.html",
        binding=row,
        form=shown,
        errors=by_input,
        general=general,
        remediations=names,
        modes=binding_form.MODES,
        kinds=binding_form.KINDS,
        severities=binding_form.SEVERITIES,
    ), status


@bp.get("/bindings/<binding_id>")
def binding(binding_id: str) -> Any:
    """A binding, and for a shadow binding what it recorded live over the period (?since=, ?until=)."""
    number = object_id(binding_id, "binding")
    period = {k: request.args.get(k) or None for k in ("since", "until")}
    with db().read() as s:
        row = binding_service.get(s, number)
        if row.mode != "shadow":
            return _binding_page(row, period)
        try:
            since, until = _period(period)
        except BadRequestError as exc:
            return _binding_page(row, period, error=exc.message, status=400)
        shown = _timeline(shadow.decisions(s, row, since=since, until=until), since, until)
    return _binding_page(row, period, shadow_record=shown)


@bp.post("/bindings/<binding_id>/rehearse")
@require("operator")
def binding_rehearse(binding_id: str) -> Any:
    """Replay the stored alert history of the period through this binding (as if enabled)."""
    number = object_id(binding_id, "binding")
    period = {k: request.form.get(k, "").strip() or None for k in ("since", "until")}
    with db().read() as s:
        row = binding_service.get(s, number)
        try:
            since, until = _period(period)
        except BadRequestError as exc:
            return _binding_page(row, period, error=exc.message, status=400)
        decisions = service_rehearsal.replay_binding(s, service_rehearsal.enabled_copy(row), since=since, until=until)
        shown = _timeline(decisions, since, until)
    return _binding_page(row, period, rehearsal=shown)


def _period(period: dict[str, str | None]) -> tuple[datetime, datetime]:
    now = utcnow()
    return service_rehearsal.period(
        spec.moment(period["since"], "since", now), spec.moment(period["until"], "until", now), now
    )


def _timeline(decisions: Iterable[Rehearsed], since: datetime, until: datetime) -> dict[str, Any]:
    """Counts, the first decisions of each kind and the timeline, from one list of decisions."""
    made = list(decisions)
    return {
        **replay.summarise(made, limit=LISTED_DECISIONS),
        "since": since,
        "until": until,
        "timeline": timeline.timeline(made, since=since, until=until),
    }


def _binding_page(
    row: Binding, period: dict[str, str | None], *, status: int = 200, error: str | None = None, **shown: Any
) -> Any:
    return render_template("dashboard/binding.html", binding=row, period=period, error=error, **shown), status
