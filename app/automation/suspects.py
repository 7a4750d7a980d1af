"""Bindings with `when_suspect`: decided once the alert's diagnosis is done, not at firing.

A binding's script may only make sense when a given signal moved first (restart the database
only if a database signal is a top suspect). The diagnosis runs after the alert's window is
complete, so such a binding waits; the diagnosis' completion (or failure) decides it through
the same decision code as firing (app.automation.service.on_diagnosed).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.diagnostics.models import Diagnosis
from config import regex

WAITING_REASON = "waiting for diagnosis"


def diagnosis_pending(session: Session, alert_id: int) -> bool:
    """A diagnosis of the alert is queued or running (so its completion will decide)."""
    return (
        session.scalar(
            select(Diagnosis.id).where(Diagnosis.alert_id == alert_id, Diagnosis.state.in_(("queued", "running")))
        )
        is not None
    )


def labels_match(wanted: dict[str, str], labels: dict[str, str]) -> bool:
    """Every wanted label is present and equal (a value starting with '~' is a regex)."""
    for name, pattern in wanted.items():
        value = labels.get(name)
        if value is None:
            return False
        try:
            if not (regex.fullmatch(pattern[1:], value) if pattern.startswith("~") else value == pattern):
                return False
        except regex.RegexError:
            return False  # checked when the binding was stored; a bad one matches nothing
    return True


def skip_reason(when_suspect: dict[str, Any], suspects: list[dict[str, Any]] | None) -> str | None:
    """None when a matching signal is among the top N suspects; else why the binding is skipped."""
    if suspects is None:
        return "skipped: when_suspect: the diagnosis failed"
    top = int(when_suspect.get("top", 3))
    wanted = dict(when_suspect.get("labels", {}))
    if any(labels_match(wanted, s.get("labels", {})) for s in suspects[:top]):
        return None
    return f"skipped: when_suspect: no signal matching {_show(wanted)} among the top {top} suspects"


def _show(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
