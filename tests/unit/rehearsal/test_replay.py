"""The pure replay core: approvals, concurrency and the breaker, without a database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from app.rehearsal import replay
from app.rehearsal.service import transient_binding
from config.schema import BindingConfig

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def _binding(**fields: Any) -> Any:
    return transient_binding(BindingConfig.model_validate({"name": "b", "remediation": "fix", **fields}))


def _firing(alert_id: int, minute: float, fp: str = "fp-1", resolved: float | None = None) -> replay.Firing:
    return replay.Firing(
        alert_id,
        T0 + timedelta(minutes=minute),
        fp,
        "cpu",
        "critical",
        "threshold",
        {"instance": fp},
        T0 + timedelta(minutes=resolved) if resolved is not None else None,
    )


def _reasons(binding: Any, firings: list[replay.Firing], history: replay.History) -> list[str]:
    return [d.reason for d in replay.replay(binding, firings, history)]


def test_it_holds_an_unanswered_approval_until_its_alert_resolves() -> None:
    binding = _binding(mode="approve", cooldown=0, rate_limit=1, rate_window="1h")
    reasons = _reasons(binding, [_firing(1, 0, resolved=5), _firing(2, 2), _firing(3, 6)], replay.History())
    assert reasons == [
        "waiting for approval",
        "skipped: already queued or running for this alert",
        "waiting for approval",
    ]  # the expired request no longer counts for the rate limit


def test_it_queues_past_the_concurrency_limit_while_known_runs_last() -> None:
    history = replay.History(max_concurrency=1, outcomes={1: replay.Outcome("succeeded", 600.0)})
    reasons = _reasons(_binding(mode="auto"), [_firing(1, 0, "a"), _firing(2, 1, "b"), _firing(3, 11, "c")], history)
    assert reasons == [
        "run: all checks passed",
        "queued: concurrency (1 running or waiting, max 1)",
        "run: all checks passed",
    ]


def test_it_opens_the_breaker_on_past_failures_and_closes_it_where_a_person_did() -> None:
    history = replay.History(
        outcomes={1: replay.Outcome("failed", 1.0), 2: replay.Outcome("timed_out", 1.0)},
        breaker_closes=[T0 + timedelta(minutes=30)],
    )
    firings = [_firing(i, minute, f"fp-{i}") for i, minute in ((1, 0), (2, 10), (3, 20), (4, 40))]
    reasons = _reasons(_binding(mode="auto", breaker_threshold=2, rate_limit=100), firings, history)
    assert reasons == [
        "run: all checks passed",
        "run: all checks passed",
        "skipped: circuit breaker open (after 2 consecutive failures)",
        "run: all checks passed",
    ]


def test_it_says_the_same_for_a_shadow_binding_as_a_would_run() -> None:
    reasons = _reasons(_binding(mode="shadow", cooldown="10m"), [_firing(1, 0), _firing(2, 5)], replay.History())
    assert reasons[0] == "shadow: would run (all checks passed)" and reasons[1].startswith("skipped: cooldown")
