"""Remediations, bindings, executions and the automation pause switch."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_restx import Namespace, fields, reqparse

from app.auth.decorators import Resource, actor, require
from app.automation import bindings as binding_service
from app.automation import liveoutput, registry, service
from app.automation.models import Execution, RemediationVersion
from app.db import iso, utcnow
from app.errors import BadRequestError
from app.web import bounded_int, cfg, db, page_parser
from remediations.builtin import list_builtins

ns = Namespace("remediations", description="Registered remediation scripts")
bindings_ns = Namespace("bindings", description="Which alerts run which remediation")
executions_ns = Namespace("executions", description="Remediation runs")
automation_ns = Namespace("automation", description="Global automation switch")

register_in = ns.model(
    "RemediationRegister",
    {
        "name": fields.String(required=True, pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$"),
        "description": fields.String(max_length=2000),
        "script": fields.String(description="script text starting with a #! line"),
        "builtin": fields.String(description="name of a shipped script instead of script"),
        "params_schema": fields.Raw(description="JSON Schema of the parameters"),
        "timeout_s": fields.Float(min=1, max=3600),
        "max_concurrency": fields.Integer(min=1, max=64),
        "allowed_env": fields.List(fields.String),
    },
    strict=True,
)
version_out = ns.model(
    "RemediationVersion",
    {
        "version": fields.Integer,
        "hash": fields.String,
        "description": fields.String,
        "builtin": fields.String,
        "params_schema": fields.Raw,
        "timeout_s": fields.Float,
        "max_concurrency": fields.Integer,
        "allowed_env": fields.List(fields.String),
        "created_at": fields.String,
        "created_by": fields.String,
    },
)
version_full = ns.inherit("RemediationVersionWithScript", version_out, {"script": fields.String})
remediation_out = ns.model(
    "Remediation",
    {
        "name": fields.String,
        "latest_version": fields.Integer,
        "disabled": fields.Boolean,
        "created_at": fields.String,
        "created_by": fields.String,
        "versions": fields.List(fields.Nested(version_out)),
    },
)
registered_out = ns.inherit("RemediationRegistered", version_out, {"name": fields.String, "created": fields.Boolean})
run_in = ns.model(
    "RemediationRun",
    {
        "params": fields.Raw,
        "alert_id": fields.Integer(min=1, max=2**31 - 1),
        "dry_run": fields.Boolean,
    },
    strict=True,
)
stats_out = ns.model(
    "RemediationStats",
    {
        "remediation": fields.String,
        "runs": fields.Integer,
        "succeeded": fields.Integer,
        "success_rate": fields.Float,
        "judged": fields.Integer(description="effective + not_effective"),
        "effective": fields.Integer,
        "not_effective": fields.Integer,
        "not_applicable": fields.Integer(description="succeeded runs that started after their alert had resolved"),
        "effectiveness_rate": fields.Float,
        "median_time_to_recovery_s": fields.Float,
    },
)
execution_out = executions_ns.model(
    "Execution",
    {
        "id": fields.Integer,
        "remediation": fields.String,
        "version": fields.Integer,
        "version_hash": fields.String,
        "binding_id": fields.Integer,
        "alert_id": fields.Integer,
        "state": fields.String,
        "reason": fields.String,
        "trigger": fields.String,
        "triggered_by": fields.String,
        "approved_by": fields.String,
        "rejected_by": fields.String,
        "cancelled_by": fields.String,
        "comment": fields.String,
        "params": fields.Raw,
        "exit_code": fields.Integer,
        "truncated": fields.Boolean,
        "queued_at": fields.String,
        "expires_at": fields.String(description="when a waiting approval expires"),
        "started_at": fields.String,
        "finished_at": fields.String,
        "duration_s": fields.Float,
        "outcome": fields.String(description="effective | not_effective | not_applicable"),
        "recovery_s": fields.Float,
        "outcome_unknown": fields.Boolean(description="interrupted after the script started: it may have completed"),
    },
)
action_in = executions_ns.model(
    "ExecutionAction",
    {
        "comment": fields.String(max_length=1000, description="kept with the execution and in the audit log"),
        "force": fields.Boolean(description="approve: run even though the alert resolved or the approval expired"),
    },
    strict=True,
)
execution_full = executions_ns.inherit("ExecutionWithOutput", execution_out, {"output": fields.String})
execution_page = executions_ns.model(
    "ExecutionPage", {"items": fields.List(fields.Nested(execution_out)), "next_cursor": fields.Integer}
)
binding_in = bindings_ns.model(
    "BindingCreate",
    {
        "name": fields.String(required=True),
        "remediation": fields.String(required=True),
        "detector": fields.String,
        "matchers": fields.Raw,
        "severities": fields.List(fields.String),
        "params": fields.Raw,
        "mode": fields.String(enum=["auto", "approve", "dry_run", "shadow"]),
        "cooldown": fields.String(description="duration, e.g. 5m"),
        "rate_limit": fields.Integer,
        "rate_window": fields.String(description="duration, e.g. 1h"),
        "breaker_threshold": fields.Integer,
        "approval_timeout": fields.String(description="duration a mode approve execution waits, e.g. 30m (default 1h)"),
        "enabled": fields.Boolean,
        "queue": fields.String(description="RQ queue (target group)"),
        "when_suspect": fields.Raw(
            description='{"labels": {...}, "top": 3}: run only if such a signal is among the diagnosis\' top suspects'
        ),
        "kind": fields.String(
            enum=["remediation", "diagnostic"],
            description="diagnostic: read-only, runs on firing without approval, never judged",
        ),
    },
    strict=True,
)
binding_out = bindings_ns.model(
    "Binding",
    {
        "id": fields.Integer,
        "name": fields.String,
        "remediation": fields.String,
        "detector": fields.String,
        "matchers": fields.Raw,
        "severities": fields.List(fields.String),
        "params": fields.Raw,
        "mode": fields.String,
        "cooldown_s": fields.Float,
        "rate_limit": fields.Integer,
        "rate_window_s": fields.Float,
        "breaker_threshold": fields.Integer,
        "breaker_open": fields.Boolean,
        "consecutive_failures": fields.Integer,
        "approval_timeout_s": fields.Float,
        "enabled": fields.Boolean,
        "origin": fields.String,
        "queue": fields.String,
        "when_suspect": fields.Raw,
        "kind": fields.String,
    },
)
pause_in = automation_ns.model("PauseRequest", {"reason": fields.String(max_length=1000)}, strict=True)
automation_out = automation_ns.model(
    "AutomationState",
    {
        "paused": fields.Boolean,
        "changed_at": fields.String,
        "changed_by": fields.String,
        "reason": fields.String,
    },
)


def version_dict(v: RemediationVersion, *, script: bool = False) -> dict[str, Any]:
    """One remediation version as the API shows it; with script=True, its script text too."""
    out = {
        "version": v.version,
        "hash": v.hash,
        "description": v.description,
        "builtin": v.builtin,
        "params_schema": v.params_schema,
        "timeout_s": v.timeout_s,
        "max_concurrency": v.max_concurrency,
        "allowed_env": v.allowed_env,
        "created_at": iso(v.created_at),
        "created_by": v.created_by,
    }
    return {**out, "script": v.script} if script else out


def execution_dict(e: Execution, *, output: bool = False) -> dict[str, Any]:
    """One execution as the API shows it; with output=True, its captured output too."""
    out = {
        "id": e.id,
        "remediation": e.remediation,
        "version": e.version,
        "version_hash": e.version_hash,
        "binding_id": e.binding_id,
        "alert_id": e.alert_id,
        "state": e.state,
        "reason": e.reason,
        "trigger": e.trigger,
        "triggered_by": e.triggered_by,
        "approved_by": e.approved_by,
        "rejected_by": e.rejected_by,
        "cancelled_by": e.cancelled_by,
        "comment": e.comment,
        "params": e.params,
        "exit_code": e.exit_code,
        "truncated": e.truncated,
        "queued_at": iso(e.queued_at),
        "expires_at": iso(e.expires_at),
        "started_at": iso(e.started_at),
        "finished_at": iso(e.finished_at),
        "duration_s": e.duration_s,
        "outcome": e.outcome,
        "recovery_s": e.recovery_s,
        "outcome_unknown": bool(e.outcome_unknown),
    }
    return {**out, "output": e.output} if output else out


@ns.route("")
class Remediations(Resource):
    """/api/v1/remediations: list and register remediation scripts."""

    @require("viewer")
    @ns.marshal_list_with(remediation_out)
    def get(self) -> list[dict[str, Any]]:
        """Registered remediations with their versions."""
        with db().read() as session:
            return [_remediation(session, r) for r in registry.list_all(session)]

    @require("admin")
    @ns.expect(register_in, validate=True)
    @ns.response(201, "Registered a new version", registered_out)
    @ns.response(200, "Identical content: the existing version", registered_out)
    def post(self) -> Any:
        """Register a script (or a shipped builtin) as a new immutable version."""
        manifest = registry.manifest_from_request(
            dict(ns.payload), max_script_bytes=cfg().settings.automation.max_script_bytes
        )
        with db().write() as session:
            version, created = registry.register(session, manifest=manifest, by=actor(), now=utcnow())
            return {**version_dict(version), "name": manifest.name, "created": created}, 201 if created else 200


@ns.route("/builtins")
class Builtins(Resource):
    """/api/v1/remediations/builtins: the scripts shipped with Vigil."""

    @require("viewer")
    def get(self) -> list[dict[str, Any]]:
        """Scripts shipped with Vigil, usable as {"builtin": name} when registering."""
        return [
            {"name": name, "description": m.description, "params_schema": m.params_schema, "timeout_s": m.timeout_s}
            for name, m in list_builtins().items()
        ]


def _remediation(session: Any, r: Any) -> dict[str, Any]:
    return {
        "name": r.name,
        "latest_version": r.latest_version,
        "disabled": r.disabled,
        "created_at": iso(r.created_at),
        "created_by": r.created_by,
        "versions": [version_dict(v) for v in registry.versions(session, r)],
    }


@ns.route("/<string:name>")
class RemediationDetail(Resource):
    """/api/v1/remediations/<name>: one remediation and its versions."""

    @require("viewer")
    @ns.response(404, "No such remediation")
    @ns.marshal_with(remediation_out)
    def get(self, name: str) -> dict[str, Any]:
        """One remediation: its versions, who registered each and when."""
        with db().read() as session:
            return _remediation(session, registry.get(session, name))


@ns.route("/<string:name>/versions/<int:number>")
class RemediationVersionDetail(Resource):
    """/api/v1/remediations/<name>/versions/<number>: one version and its script."""

    @require("viewer")
    @ns.response(404, "No such version")
    @ns.marshal_with(version_full)
    def get(self, name: str, number: int) -> dict[str, Any]:
        """One version with its script text."""
        with db().read() as session:
            return version_dict(registry.version(session, name, number), script=True)


@ns.route("/<string:name>/disable")
class RemediationDisable(Resource):
    """/api/v1/remediations/<name>/disable: stop a remediation from running."""

    @require("admin")
    @ns.response(404, "No such remediation")
    @ns.marshal_with(remediation_out)
    def post(self, name: str) -> dict[str, Any]:
        """Stop this remediation from running (registering a new version enables it again)."""
        with db().write() as session:
            return _remediation(session, registry.disable(session, name=name, by=actor()))


@ns.route("/<string:name>/run")
class RemediationRun(Resource):
    """/api/v1/remediations/<name>/run: run a remediation by hand, or dry-run it."""

    @require("operator")
    @ns.expect(run_in, validate=True)
    @ns.response(202, "Queued", execution_out)
    @ns.response(200, "Dry run: what would run")
    @ns.response(400, "Parameters do not match the schema")
    def post(self, name: str) -> Any:
        """Run now with parameters (validated against the schema); dry_run only renders."""
        body = ns.payload or {}
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise BadRequestError("params must be an object", {"params": "expected an object"})
        with db().write() as session:
            if body.get("dry_run"):
                return service.dry_run(session, name=name, params=params), 200
            execution = service.run_manually(
                session, name=name, params=params, alert_id=body.get("alert_id"), by=actor(), now=utcnow()
            )
            return execution_dict(execution), 202


@ns.route("/<string:name>/stats")
class RemediationStats(Resource):
    """/api/v1/remediations/<name>/stats: how a remediation's runs went."""

    @require("viewer")
    @ns.marshal_with(stats_out)
    def get(self, name: str) -> dict[str, Any]:
        """Runs, success rate, effectiveness rate and median time to recovery."""
        with db().read() as session:
            return service.stats(session, name)


exec_filters = page_parser()
exec_filters.add_argument("state", location="args")
exec_filters.add_argument("remediation", location="args")
exec_filters.add_argument("alert_id", type=bounded_int(1, 2**31 - 1), location="args")


@executions_ns.route("")
class Executions(Resource):
    """/api/v1/executions: remediation runs, paged by cursor."""

    @require("viewer")
    @executions_ns.expect(exec_filters)
    @executions_ns.marshal_with(execution_page)
    def get(self) -> dict[str, Any]:
        """Executions, newest first."""
        a = exec_filters.parse_args(strict=True)
        query = service.ExecutionQuery(**{k: a[k] for k in ("state", "remediation", "alert_id", "cursor", "limit")})
        with db().read() as session:
            rows, next_cursor = service.search_executions(session, query)
            return {"items": [execution_dict(r) for r in rows], "next_cursor": next_cursor}


@executions_ns.route("/<int:execution_id>")
class ExecutionDetail(Resource):
    """/api/v1/executions/<id>: one run with its output."""

    @require("viewer")
    @executions_ns.response(404, "No such execution")
    @executions_ns.marshal_with(execution_full)
    def get(self, execution_id: int) -> dict[str, Any]:
        """One execution with its captured output."""
        with db().read() as session:
            return execution_dict(service.get_execution(session, execution_id), output=True)


def _execution_action(verb: str) -> type[Resource]:
    action = getattr(service, verb)

    class ExecutionAction(Resource):
        @require("operator")
        @executions_ns.expect(action_in)
        @executions_ns.response(404, "No such execution")
        @executions_ns.response(
            409,
            f"Execution cannot be {verb}d in its state"
            + (", or is stale (its alert resolved, or it expired) without force" if verb == "approve" else ""),
        )
        @executions_ns.marshal_with(execution_out)
        def post(self, execution_id: int) -> dict[str, Any]:
            body = request.get_json(silent=True) if request.content_length else None
            body = body if body is not None else {}  # a bare POST (curl -X POST, the dashboard) is fine
            action_in.validate(body)  # the same check and 400 shape as validate=True, for a body sent
            if body.get("force") and verb != "approve":
                raise BadRequestError("force applies to approve only", {"force": f"not accepted by {verb}"})
            extra = {"force": bool(body.get("force"))} if verb == "approve" else {}
            with db().write() as session:
                return execution_dict(
                    action(
                        session,
                        execution_id=execution_id,
                        by=actor(),
                        now=utcnow(),
                        comment=body.get("comment") or "",
                        config=cfg(),
                        **extra,
                    )
                )

    ExecutionAction.post.__doc__ = (
        f"{verb.capitalize()} an execution (the operator and an optional comment are recorded)."
    )
    ExecutionAction.__name__ = f"Execution{verb.capitalize()}"
    return ExecutionAction


for _verb in ("approve", "reject", "cancel"):
    executions_ns.add_resource(_execution_action(_verb), f"/<int:execution_id>/{_verb}")


@bindings_ns.route("")
class Bindings(Resource):
    """/api/v1/bindings: list and create bindings."""

    @require("viewer")
    @bindings_ns.marshal_list_with(binding_out)
    def get(self) -> list[dict[str, Any]]:
        """Every binding with its breaker state."""
        with db().read() as session:
            return [binding_service.as_dict(b) for b in binding_service.list_all(session)]

    @require("admin")
    @bindings_ns.expect(binding_in, validate=True)
    @bindings_ns.response(201, "Created", binding_out)
    def post(self) -> Any:
        """Create a binding (mode, cooldown, rate limit, breaker threshold)."""
        spec = binding_service.parse(ns.payload)
        with db().write() as session:
            return binding_service.as_dict(binding_service.create(session, spec=spec, by=actor(), now=utcnow())), 201


@bindings_ns.route("/<int:binding_id>")
class BindingDetail(Resource):
    """/api/v1/bindings/<id>: read, replace or delete one binding."""

    @require("viewer")
    @bindings_ns.response(404, "No such binding")
    @bindings_ns.marshal_with(binding_out)
    def get(self, binding_id: int) -> dict[str, Any]:
        """One binding."""
        with db().read() as session:
            return binding_service.as_dict(binding_service.get(session, binding_id))

    @require("admin")
    @bindings_ns.expect(binding_in, validate=True)
    @bindings_ns.response(400, "Invalid binding, or a different name")
    @bindings_ns.response(404, "No such binding")
    @bindings_ns.response(409, "The binding comes from the config file")
    @bindings_ns.marshal_with(binding_out)
    def put(self, binding_id: int) -> dict[str, Any]:
        """Replace a binding's settings (the POST body; its name stays), audited with what changed."""
        spec = binding_service.parse(ns.payload)
        with db().write() as session:
            return binding_service.as_dict(
                binding_service.update(session, binding_id=binding_id, spec=spec, by=actor(), now=utcnow())
            )

    @require("admin")
    @bindings_ns.response(204, "Deleted")
    @bindings_ns.response(404, "No such binding")
    def delete(self, binding_id: int) -> Any:
        """Delete a binding."""
        with db().write() as session:
            binding_service.delete(session, binding_id=binding_id, by=actor())
        return "", 204


@bindings_ns.route("/<int:binding_id>/close-breaker")
class BindingCloseBreaker(Resource):
    """/api/v1/bindings/<id>/close-breaker: let a binding whose breaker opened run again."""

    @require("operator")
    @bindings_ns.response(404, "No such binding")
    @bindings_ns.marshal_with(binding_out)
    def post(self, binding_id: int) -> dict[str, Any]:
        """Close an open circuit breaker so the binding runs again."""
        with db().write() as session:
            return binding_service.as_dict(binding_service.close_breaker(session, binding_id=binding_id, by=actor()))


@automation_ns.route("")
class Automation(Resource):
    """/api/v1/automation: whether automation is paused."""

    @require("viewer")
    @automation_ns.marshal_with(automation_out)
    def get(self) -> dict[str, Any]:
        """Whether automation is paused, since when and by whom."""
        with db().write() as session:
            s = service.state(session)
            return {"paused": s.paused, "changed_at": iso(s.changed_at), "changed_by": s.changed_by, "reason": s.reason}


def _switch(paused: bool) -> type[Resource]:
    class Switch(Resource):
        @require("operator")
        @automation_ns.expect(pause_in, validate=True)
        @automation_ns.marshal_with(automation_out)
        def post(self) -> dict[str, Any]:
            reason = (automation_ns.payload or {}).get("reason", "")
            with db().write() as session:
                s = service.set_paused(session, paused=paused, by=actor(), now=utcnow(), reason=reason)
                return {
                    "paused": s.paused,
                    "changed_at": iso(s.changed_at),
                    "changed_by": s.changed_by,
                    "reason": s.reason,
                }

    Switch.post.__doc__ = "Pause all automatic runs." if paused else "Resume automatic runs."
    Switch.__name__ = "AutomationPause" if paused else "AutomationResume"
    return Switch


automation_ns.add_resource(_switch(True), "/pause")
automation_ns.add_resource(_switch(False), "/resume")


output_args = reqparse.RequestParser(bundle_errors=True)
output_args.add_argument(
    "offset", type=bounded_int(0, 2**40), default=0, location="args", help="characters of output already seen"
)
output_out = executions_ns.model(
    "ExecutionOutput",
    {
        "execution_id": fields.Integer,
        "state": fields.String,
        "done": fields.Boolean,
        "reset": fields.Boolean(
            description="replace what you have with text (the run ended, or offset was past the end)"
        ),
        "offset": fields.Integer(description="pass as offset next time"),
        "text": fields.String,
        "exit_code": fields.Integer,
    },
)


@executions_ns.route("/<int:execution_id>/output")
class ExecutionOutput(Resource):
    """/api/v1/executions/<id>/output: a run's output as it is written."""

    @require("viewer")
    @executions_ns.expect(output_args)
    @executions_ns.response(404, "No such execution")
    @executions_ns.marshal_with(output_out)
    def get(self, execution_id: int) -> dict[str, Any]:
        """A running execution's output since `offset` characters (poll about once a second)."""
        a = output_args.parse_args(strict=True)
        with db().read() as session:
            return liveoutput.since(service.get_execution(session, execution_id), a["offset"])
