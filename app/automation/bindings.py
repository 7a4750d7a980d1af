"""Bindings: which alerts run which remediation, from the API and from the config file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation.models import Binding
from app.db import get_or_404, utcnow
from app.errors import BadRequestError, ConflictError
from app.events import Event, publish
from config import matchers as label_matchers
from config import regex
from config.loader import describe
from config.schema import BindingConfig
from remediations import BindingPolicy

SEVERITIES = ("info", "warning", "critical")


def matches(binding: Binding, alert: Alert) -> bool:
    """Detector name, severities and label matchers (a value starting with '~' is a regex).

    Labels follow config.matchers' one rule: a label the alert lacks is "", so `{team: ""}`
    or `{env: "~|dev"}` also match alerts without that label. A regex stored before RE2
    matches nothing rather than running anything.
    """
    if not binding.enabled:
        return False
    if binding.detector and binding.detector != alert.detector:
        return False
    if binding.severities and alert.severity not in binding.severities:
        return False
    return label_matchers.matches(label_matchers.from_stored_map(binding.matchers), alert.labels)


def policy(binding: Binding) -> BindingPolicy:
    """The binding's settings as the policy kernel (remediations.admit) reads them; diagnostic
    bindings always run without approval (they only read)."""
    mode = "auto" if binding.kind == "diagnostic" else binding.mode  # read-only: nobody needs to approve it
    return BindingPolicy(
        mode=mode,  # type: ignore[arg-type]
        cooldown_s=binding.cooldown_s,
        rate_limit=binding.rate_limit,
        rate_window_s=binding.rate_window_s,
        breaker_threshold=binding.breaker_threshold,
    )


def parse(payload: Any) -> BindingConfig:
    """The binding a request describes, or a 400 whose errors name each field (API and dashboard)."""
    try:
        return BindingConfig.model_validate(payload)
    except ValidationError as exc:
        errors = dict(line.split(": ", 2)[1:3] for line in describe("body", exc).splitlines() if line.count(": ") >= 2)
        raise BadRequestError("invalid binding", errors) from None


def create(session: Session, *, spec: BindingConfig, by: str, now: datetime, origin: str = "api") -> Binding:
    """Add a binding and audit it. Raises ConflictError when the name is taken, BadRequestError on a
    regex RE2 refuses."""
    if session.scalar(select(Binding.id).where(Binding.name == spec.name)) is not None:
        raise ConflictError(f"a binding named {spec.name!r} already exists", {"name": "already taken"})
    _check_spec_regexes(spec)
    binding = Binding(
        name=spec.name, created_at=now, created_by=by, origin=origin, breaker_open=False, consecutive_failures=0
    )
    _assign(binding, spec)
    session.add(binding)
    session.flush()
    publish(
        session,
        [
            Event(
                "binding.create",
                utcnow(),
                actor=by,
                target=f"binding:{spec.name}",
                details=spec.model_dump(mode="json"),
            )
        ],
    )
    return binding


def sync_from_config(session: Session, specs: Sequence[BindingConfig], *, now: datetime) -> None:
    """Make config-file bindings match the file, keeping their breaker state."""
    for spec in specs:
        existing = session.scalar(select(Binding).where(Binding.name == spec.name))
        if existing is None:
            create(session, spec=spec, by="config", now=now, origin="config")
        elif existing.origin == "config":  # an edit of the config file is a change like any other: audited
            _change(session, existing, spec, by="config", now=now)


def update(session: Session, *, binding_id: int, spec: BindingConfig, by: str, now: datetime) -> Binding:
    """Replace an API- or dashboard-made binding's settings (its name stays), audited with what changed.

    A config-file binding is refused: the next start would put the file's version back.
    """
    binding = get(session, binding_id)
    if binding.origin == "config":
        raise ConflictError(f"binding {binding.name!r} comes from the config file: edit it there")
    if spec.name != binding.name:
        raise BadRequestError("a binding keeps its name", {"name": "cannot be changed"})
    _check_spec_regexes(spec)
    _change(session, binding, spec, by=by, now=now)
    return binding


def _change(session: Session, binding: Binding, spec: BindingConfig, *, by: str, now: datetime) -> None:
    before = _fields(binding)
    _assign(binding, spec)
    after = _fields(binding)
    changed = {k: {"from": v, "to": after[k]} for k, v in before.items() if after[k] != v}
    if changed:
        publish(
            session,
            [Event("binding.update", now, actor=by, target=f"binding:{spec.name}", details={"changed": changed})],
        )


_FIELDS = (
    "remediation",
    "detector",
    "matchers",
    "severities",
    "params",
    "mode",
    "cooldown_s",
    "rate_limit",
    "rate_window_s",
    "breaker_threshold",
    "approval_timeout_s",
    "enabled",
    "queue",
    "when_suspect",
    "kind",
)


def _fields(binding: Binding) -> dict[str, Any]:
    return {name: getattr(binding, name) for name in _FIELDS}


def _assign(binding: Binding, spec: BindingConfig) -> None:
    binding.remediation, binding.detector = spec.remediation, spec.detector
    binding.matchers, binding.severities, binding.params = dict(spec.matchers), list(spec.severities), spec.params
    binding.mode, binding.cooldown_s = spec.mode, spec.cooldown
    binding.rate_limit, binding.rate_window_s = spec.rate_limit, spec.rate_window
    binding.breaker_threshold, binding.enabled = spec.breaker_threshold, spec.enabled
    binding.approval_timeout_s = spec.approval_timeout
    binding.queue = spec.queue
    binding.when_suspect = spec.when_suspect.model_dump() if spec.when_suspect is not None else None
    binding.kind = spec.kind


def _check_spec_regexes(spec: BindingConfig) -> None:
    _check_regexes(spec.matchers)
    if spec.when_suspect is not None:
        _check_regexes(spec.when_suspect.labels, field="when_suspect.labels")


def _check_regexes(matchers: dict[str, str], field: str = "matchers") -> None:
    for name, value in matchers.items():
        if value.startswith("~"):
            try:
                regex.compile_label_regex(value[1:])
            except regex.RegexError as exc:
                raise BadRequestError(f"{field}.{name}: {exc}", {f"{field}.{name}": str(exc)}) from None


def get(session: Session, binding_id: int) -> Binding:
    """The binding with this id. Raises NotFoundError."""
    return get_or_404(session, Binding, binding_id, "binding")


def list_all(session: Session) -> Sequence[Binding]:
    """Every binding, oldest first."""
    return session.scalars(select(Binding).order_by(Binding.id)).all()


def delete(session: Session, *, binding_id: int, by: str) -> None:
    """Delete a binding and audit it. Raises NotFoundError."""
    binding = get(session, binding_id)
    session.delete(binding)
    publish(session, [Event("binding.delete", utcnow(), actor=by, target=f"binding:{binding.name}")])


def close_breaker(session: Session, *, binding_id: int, by: str) -> Binding:
    """Close the binding's circuit breaker (failure count back to 0) so it runs again; audited when
    it was open."""
    binding = get(session, binding_id)
    if binding.breaker_open:
        binding.breaker_open, binding.consecutive_failures = False, 0
        publish(session, [Event("binding.breaker_close", utcnow(), actor=by, target=f"binding:{binding.name}")])
    return binding


def as_dict(b: Binding) -> dict[str, Any]:
    """One binding as the API shows it."""
    return {
        "id": b.id,
        "name": b.name,
        "remediation": b.remediation,
        "detector": b.detector,
        "matchers": b.matchers,
        "severities": b.severities,
        "params": b.params,
        "mode": b.mode,
        "cooldown_s": b.cooldown_s,
        "rate_limit": b.rate_limit,
        "rate_window_s": b.rate_window_s,
        "breaker_threshold": b.breaker_threshold,
        "breaker_open": b.breaker_open,
        "consecutive_failures": b.consecutive_failures,
        "approval_timeout_s": b.approval_timeout_s,
        "enabled": b.enabled,
        "origin": b.origin,
        "queue": b.queue,
        "when_suspect": b.when_suspect,
        "kind": b.kind,
    }
