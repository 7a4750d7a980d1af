"""decide(): each guard, in order, proven by a case that would run without it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from remediations.policy import BindingPolicy, breaker_should_open, decide

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)


def policy(**overrides: Any) -> BindingPolicy:
    fields: dict[str, Any] = {
        "mode": "auto",
        "cooldown_s": 300,
        "rate_limit": 5,
        "rate_window_s": 3600,
        "breaker_threshold": 3,
    }
    fields.update(overrides)
    return BindingPolicy(**fields)


def facts(**overrides: Any) -> dict[str, Any]:
    """Inputs under which an auto binding runs; each test changes one."""
    fields: dict[str, Any] = {
        "binding": policy(),
        "now": NOW,
        "paused": False,
        "silenced_by": None,
        "last_run_at_for_fingerprint": None,
        "runs_in_window": 0,
        "breaker_open": False,
        "running_for_remediation": 0,
        "max_concurrency": 2,
    }
    fields.update(overrides)
    return fields


def test_it_runs_when_nothing_stands_in_the_way():
    decision = decide(**facts())

    assert (decision.action, decision.reason) == ("run", "run: all checks passed")


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"paused": True}, "skipped: automation paused"),
        ({"silenced_by": "silence 12 (maintenance)"}, "skipped: silenced by silence 12 (maintenance)"),
        ({"breaker_open": True}, "skipped: circuit breaker open (after 3 consecutive failures)"),
        (
            {"last_run_at_for_fingerprint": NOW - timedelta(seconds=42)},
            "skipped: cooldown (last run 42s ago, cooldown 300s)",
        ),
        ({"runs_in_window": 5}, "skipped: rate limit (5 runs in the last 3600s, limit 5)"),
    ],
    ids=["paused", "silenced", "breaker", "cooldown", "rate"],
)
def test_each_guard_skips_with_a_reason(change, reason):
    decision = decide(**facts(**change))

    assert (decision.action, decision.reason) == ("skip", reason)


def test_cooldown_allows_a_run_once_it_has_passed():
    at_edge = decide(**facts(last_run_at_for_fingerprint=NOW - timedelta(seconds=300)))
    inside = decide(**facts(last_run_at_for_fingerprint=NOW - timedelta(seconds=299)))

    assert (at_edge.action, inside.action) == ("run", "skip")


def test_a_zero_cooldown_never_skips():
    decision = decide(**facts(binding=policy(cooldown_s=0), last_run_at_for_fingerprint=NOW))

    assert decision.action == "run"


def test_the_rate_limit_allows_runs_below_the_limit():
    assert decide(**facts(runs_in_window=4)).action == "run"


def test_a_remediation_at_its_concurrency_limit_is_queued_in_auto_mode():
    decision = decide(**facts(running_for_remediation=2, max_concurrency=2))

    assert (decision.action, decision.reason) == ("queue", "queued: concurrency (2 running or waiting, max 2)")


@pytest.mark.parametrize("mode, action", [("approve", "approve"), ("dry_run", "dry_run")])
def test_modes_that_start_nothing_now_ignore_concurrency(mode, action):
    decision = decide(**facts(binding=policy(mode=mode), running_for_remediation=9))

    assert decision.action == action


@pytest.mark.parametrize(
    "mode, action, reason",
    [
        ("auto", "run", "run: all checks passed"),
        ("approve", "approve", "waiting for approval"),
        ("dry_run", "dry_run", "dry run: would run"),
    ],
)
def test_the_mode_decides_once_every_guard_passes(mode, action, reason):
    decision = decide(**facts(binding=policy(mode=mode)))

    assert (decision.action, decision.reason) == (action, reason)


@pytest.mark.parametrize("mode", ["approve", "dry_run"])
def test_guards_apply_in_every_mode(mode):
    decision = decide(**facts(binding=policy(mode=mode), breaker_open=True))

    assert decision.action == "skip"


def test_checks_run_in_order_paused_first():
    everything_wrong = facts(
        paused=True,
        silenced_by="s1",
        breaker_open=True,
        last_run_at_for_fingerprint=NOW,
        runs_in_window=99,
        running_for_remediation=99,
    )

    reasons = []
    for cleared in [
        "paused",
        "silenced_by",
        "breaker_open",
        "last_run_at_for_fingerprint",
        "runs_in_window",
        "running_for_remediation",
    ]:
        reasons.append(decide(**everything_wrong).reason.split(" (")[0].split(":")[1].strip())
        everything_wrong[cleared] = {
            "paused": False,
            "silenced_by": None,
            "breaker_open": False,
            "last_run_at_for_fingerprint": None,
            "runs_in_window": 0,
            "running_for_remediation": 0,
        }[cleared]

    assert reasons == [
        "automation paused",
        "silenced by s1",
        "circuit breaker open",
        "cooldown",
        "rate limit",
        "concurrency",
    ]
    assert decide(**everything_wrong).action == "run"


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("mode", "yolo", "mode must be one of auto, approve, dry_run"),
        ("cooldown_s", -1, "cooldown_s must be >= 0"),
        ("rate_limit", 0, "rate_limit must be >= 1"),
        ("rate_window_s", 0, "rate_window_s > 0"),
        ("breaker_threshold", 0, "breaker_threshold must be >= 1"),
    ],
)
def test_an_invalid_binding_policy_is_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        policy(**{field: value})


@pytest.mark.parametrize(
    "failures, threshold, expected",
    [
        (0, 3, False),
        (2, 3, False),
        (3, 3, True),
        (4, 3, True),
        (1, 1, True),
    ],
)
def test_the_breaker_opens_at_the_threshold_of_consecutive_failures(failures, threshold, expected):
    assert breaker_should_open(failures, threshold) is expected
