"""Registered remediation scripts: immutable, content-addressed versions stored in the database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.automation.models import Remediation, RemediationVersion
from app.db import utcnow
from app.errors import BadRequestError, ConflictError, NotFoundError
from app.events import Event, publish
from remediations import Manifest, ManifestError, content_hash, parse_manifest
from remediations.builtin import load_builtin


def manifest_from_request(body: dict[str, Any], *, max_script_bytes: int) -> Manifest:
    """A Manifest from an API body; `builtin` names a shipped script instead of `script`."""
    try:
        if body.get("builtin"):
            if body.get("script"):
                raise ManifestError("give either script or builtin, not both", field="script")
            shipped = load_builtin(body["builtin"])
            fields = {k: v for k, v in body.items() if v is not None}
            return parse_manifest(
                {
                    "params_schema": shipped.params_schema,
                    "timeout_s": shipped.timeout_s,
                    "max_concurrency": shipped.max_concurrency,
                    "description": shipped.description,
                    "allowed_env": list(shipped.allowed_env),
                    **fields,
                    "script": shipped.script,
                },
                max_script_bytes=max_script_bytes,
            )
        return parse_manifest({k: v for k, v in body.items() if v is not None}, max_script_bytes=max_script_bytes)
    except ManifestError as exc:
        raise BadRequestError(str(exc), {exc.field: str(exc)}) from None


def register(session: Session, *, manifest: Manifest, by: str, now: datetime) -> tuple[RemediationVersion, bool]:
    """Store a new version, or return the existing one when the content is identical.

    Returns:
        (version, created): created is False for an identical re-registration.
    """
    digest = content_hash(manifest)
    existing = session.scalar(select(RemediationVersion).where(RemediationVersion.hash == digest))
    if existing is not None:
        return existing, False
    remediation = session.scalar(select(Remediation).where(Remediation.name == manifest.name))
    if remediation is None:
        remediation = Remediation(name=manifest.name, latest_version=0, created_at=now, created_by=by)
        session.add(remediation)
        session.flush()
    remediation.latest_version += 1
    remediation.disabled = False
    version = RemediationVersion(
        remediation_id=remediation.id,
        version=remediation.latest_version,
        hash=digest,
        description=manifest.description,
        script=manifest.script,
        params_schema=manifest.params_schema,
        timeout_s=manifest.timeout_s,
        max_concurrency=manifest.max_concurrency,
        allowed_env=list(manifest.allowed_env),
        builtin=manifest.builtin,
        created_at=now,
        created_by=by,
    )
    session.add(version)
    session.flush()
    publish(
        session,
        [
            Event(
                "remediation.register",
                utcnow(),
                actor=by,
                target=f"remediation:{manifest.name}",
                details={"version": version.version, "hash": digest, "builtin": manifest.builtin},
            )
        ],
    )
    return version, True


def get(session: Session, name: str) -> Remediation:
    """The remediation with this name. Raises NotFoundError."""
    remediation = session.scalar(select(Remediation).where(Remediation.name == name))
    if remediation is None:
        raise NotFoundError(f"remediation {name!r} not found")
    return remediation


def versions(session: Session, remediation: Remediation) -> Sequence[RemediationVersion]:
    """Its versions, oldest first."""
    return session.scalars(
        select(RemediationVersion)
        .where(RemediationVersion.remediation_id == remediation.id)
        .order_by(RemediationVersion.version)
    ).all()


def version(session: Session, name: str, number: int | None = None) -> RemediationVersion:
    """A given version, or the latest when number is None."""
    remediation = get(session, name)
    found = session.scalar(
        select(RemediationVersion).where(
            RemediationVersion.remediation_id == remediation.id,
            RemediationVersion.version == (number or remediation.latest_version),
        )
    )
    if found is None:
        raise NotFoundError(f"remediation {name!r} has no version {number}")
    return found


def runnable(session: Session, name: str) -> RemediationVersion:
    """The latest version, refusing a disabled remediation."""
    if get(session, name).disabled:
        raise ConflictError(f"remediation {name!r} is disabled; register a new version to enable it")
    return version(session, name)


def list_all(session: Session) -> Sequence[Remediation]:
    """Every registered remediation, by name."""
    return session.scalars(select(Remediation).order_by(Remediation.name)).all()


def disable(session: Session, *, name: str, by: str) -> Remediation:
    """Stop a remediation from running (audited); registering a new version enables it again.
    Raises NotFoundError."""
    remediation = get(session, name)
    if not remediation.disabled:
        remediation.disabled = True
        publish(session, [Event("remediation.disable", utcnow(), actor=by, target=f"remediation:{name}")])
    return remediation
