"""Run a remediation from a form built from its params schema, compare two versions of its
script, and follow a running execution's output."""

from __future__ import annotations

import difflib
from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for

from app.automation import liveoutput, registry, service
from app.dashboard import schema_form
from app.dashboard.blueprint import bp, object_id
from app.dashboard.filters import bad, positive_int
from app.dashboard.session import actor, require
from app.db import utcnow
from app.errors import ServiceError
from app.web import db

DIFF_CONTEXT_LINES = 3
MANIFEST_FIELDS = ("description", "timeout_s", "max_concurrency", "allowed_env", "params_schema")


@bp.get("/remediations/<name>/run")
@require("operator")
def run_form(name: str) -> Any:
    """The form to run a remediation's latest version by hand, built from its params schema (409 if disabled)."""
    with db().read() as s:
        version = registry.runnable(s, name)
    return _form_page(name, version, form=None, errors={})


@bp.post("/remediations/<name>/run")
@require("operator")
def run_submit(name: str) -> Any:
    """Validated by service.run_manually (remediations.validate_params), as POST /run is."""
    with db().read() as s:
        version = registry.runnable(s, name)
    inputs = schema_form.fields(version.params_schema)
    params, errors = schema_form.params(inputs, request.form)
    alert_id = positive_int(request.form.get("alert_id", "").strip() or None, "alert_id")
    status = 400
    if not errors:
        try:
            with db().write() as s:
                execution = service.run_manually(
                    s, name=name, params=params, alert_id=alert_id, by=actor(), now=utcnow()
                )
                number = execution.id
            flash(f"Execution {number} queued: {name} v{version.version}.", "ok")
            return redirect(url_for("dashboard.execution", execution_id=number))
        except ServiceError as exc:  # bad params (400) or an unknown alert (404): shown on the form
            errors, status = exc.errors or {"$": exc.message}, exc.status
    return _form_page(name, version, form=request.form, errors=errors), status


def _form_page(name: str, version: Any, *, form: Any, errors: dict[str, str]) -> str:
    inputs = schema_form.fields(version.params_schema)
    known = {f.error_key for f in inputs}
    # Problems the inputs cannot show (an unknown key, the object as a whole) go on top.
    general = {k: v for k, v in errors.items() if k not in known}
    return render_template(
        "dashboard/run.html",
        name=name,
        version=version,
        inputs=inputs,
        form=form,
        errors=errors,
        general=general,
        shown=schema_form.shown,
    )


@bp.get("/remediations/<name>/diff")
def version_diff(name: str) -> Any:
    """What changed between two versions of a remediation (?from=&to=): the script's diff and the
    settings that differ."""
    old_number = positive_int(request.args.get("from"), "from")
    new_number = positive_int(request.args.get("to"), "to")
    if not old_number or not new_number:
        bad("from and to must both name a version number, e.g. ?from=1&to=2")
    with db().read() as s:
        remediation = registry.get(s, name)
        old, new = registry.version(s, name, old_number), registry.version(s, name, new_number)
        numbers = [v.version for v in registry.versions(s, remediation)]
    lines = list(
        difflib.unified_diff(
            old.script.splitlines(),
            new.script.splitlines(),
            f"v{old.version}",
            f"v{new.version}",
            n=DIFF_CONTEXT_LINES,
            lineterm="",
        )
    )
    changed = [(f, getattr(old, f), getattr(new, f)) for f in MANIFEST_FIELDS if getattr(old, f) != getattr(new, f)]
    return render_template(
        "dashboard/diff.html",
        name=name,
        old=old,
        new=new,
        numbers=numbers,
        lines=[(_kind(line), line) for line in lines[2:]],
        changed=changed,
    )


def _kind(line: str) -> str:
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")


@bp.get("/executions/<execution_id>/output.json")
def execution_output_json(execution_id: str) -> Any:
    """The output since `offset` characters, for the execution page to follow a running script."""
    offset_text = request.args.get("offset", "0")
    if not offset_text.isdigit() or len(offset_text) > 12:
        return jsonify({"message": f"offset must be a whole number of characters, got {offset_text[:40]!r}"}), 400
    offset = int(offset_text)
    with db().read() as s:
        return jsonify(liveoutput.since(service.get_execution(s, object_id(execution_id, "execution")), offset))
