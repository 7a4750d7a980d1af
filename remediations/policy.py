"""Whether a matched remediation runs now: a pure function of plain values.

The caller (app automation service) gathers the facts (pause switch, silences, the
fingerprint's last run, runs in the rate window, breaker state, running executions) and
records the Decision, including skips, so every "why didn't it run?" has an answer.

Order of checks (first that applies wins):
    paused -> silenced -> breaker open -> cooldown -> rate limit -> concurrency -> mode

Concurrency: in mode "auto", a remediation already running (or queued to run) `max_concurrency`
times gets action "queue" (the caller keeps the execution queued and dispatches it when a
slot frees) instead of being dropped, since an alert usually fires once. Queued runs count:
when 15 alerts arrive in one batch, none is running yet, but only the first ones will start. In modes "approve" and
"dry_run" nothing starts now, so concurrency does not apply; the caller checks it again
when an approved execution is dispatched.

Guards apply in every mode, so a "dry_run" binding shows exactly what "auto" would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Mode = Literal["auto", "approve", "dry_run", "shadow"]
Action = Literal["run", "approve", "dry_run", "skip", "queue", "shadow"]
MODES: tuple[str, ...] = ("auto", "approve", "dry_run", "shadow")


@dataclass(frozen=True)
class BindingPolicy:
    """Safety settings of one binding.

    Attributes:
        mode: "auto" runs, "approve" waits for a person, "dry_run" records what would run,
            "shadow" decides exactly like auto (its would-runs count for cooldown and rate) and runs nothing.
        cooldown_s: least time between two runs for the same alert fingerprint (0: none).
        rate_limit: most runs of this binding within rate_window_s (all fingerprints).
        rate_window_s: length of the rate-limit window.
        breaker_threshold: consecutive failures that open the circuit breaker.
    """

    mode: Mode
    cooldown_s: float
    rate_limit: int
    rate_window_s: float
    breaker_threshold: int

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.cooldown_s < 0:
            raise ValueError(f"cooldown_s must be >= 0, got {self.cooldown_s!r}")
        if self.rate_limit < 1 or self.rate_window_s <= 0:
            raise ValueError(
                f"rate_limit must be >= 1 and rate_window_s > 0, got {self.rate_limit!r} per {self.rate_window_s!r}s"
            )
        if self.breaker_threshold < 1:
            raise ValueError(f"breaker_threshold must be >= 1, got {self.breaker_threshold!r}")


@dataclass(frozen=True)
class Decision:
    """What to do and a human reason, e.g. "skipped: cooldown (last run 42s ago, cooldown 300s)"."""

    action: Action
    reason: str


def decide(
    *,
    binding: BindingPolicy,
    now: datetime,
    paused: bool,
    silenced_by: str | None,
    last_run_at_for_fingerprint: datetime | None,
    runs_in_window: int,
    breaker_open: bool,
    running_for_remediation: int,
    max_concurrency: int,
) -> Decision:
    """Decide what happens to one alert matched by one binding.

    Args:
        binding: the binding's policy.
        now: the decision time (UTC-aware, like the datetimes compared with it).
        paused: the global automation pause switch.
        silenced_by: id or name of a silence covering the alert, None when not silenced.
        last_run_at_for_fingerprint: start of this binding's last run for the alert's
            fingerprint (count dry runs too if dry_run should mirror auto), None if never.
        runs_in_window: this binding's runs started within binding.rate_window_s before now.
        breaker_open: the binding's circuit breaker is open (see breaker_should_open).
        running_for_remediation: executions of the remediation running or queued to run.
        max_concurrency: the remediation's manifest max_concurrency.

    Returns:
        The Decision; action "skip" always carries the guard's name and numbers.
    """
    if paused:
        return Decision("skip", "skipped: automation paused")
    if silenced_by is not None:
        return Decision("skip", f"skipped: silenced by {silenced_by}")
    if breaker_open:
        return Decision(
            "skip", f"skipped: circuit breaker open (after {binding.breaker_threshold} consecutive failures)"
        )
    if last_run_at_for_fingerprint is not None:
        age_s = (now - last_run_at_for_fingerprint).total_seconds()
        if age_s < binding.cooldown_s:
            return Decision(
                "skip", f"skipped: cooldown (last run {max(age_s, 0):.0f}s ago, cooldown {binding.cooldown_s:g}s)"
            )
    if runs_in_window >= binding.rate_limit:
        return Decision(
            "skip",
            f"skipped: rate limit ({runs_in_window} runs in the last "
            f"{binding.rate_window_s:g}s, limit {binding.rate_limit})",
        )
    if binding.mode in ("auto", "shadow") and running_for_remediation >= max_concurrency:
        queued = f"queued: concurrency ({running_for_remediation} running or waiting, max {max_concurrency})"
        return (
            Decision("shadow", f"shadow: would be {queued}") if binding.mode == "shadow" else Decision("queue", queued)
        )
    if binding.mode == "approve":
        return Decision("approve", "waiting for approval")
    if binding.mode == "dry_run":
        return Decision("dry_run", "dry run: would run")
    if binding.mode == "shadow":  # decided like auto; recorded as a would-run, nothing runs or notifies
        return Decision("shadow", "shadow: would run (all checks passed)")
    return Decision("run", "run: all checks passed")


def admit(
    *,
    binding: BindingPolicy,
    paused: bool,
    silenced_by: str | None,
    breaker_open: bool,
    consecutive_failures: int,
    in_flight: int,
) -> Decision:
    """At dispatch: may a queued run of this binding start now? Decided again because the
    facts change between decision and start: a burst queues many runs before the first
    one fails, and the switch may be paused or a silence added meanwhile.

    Args:
        binding: the binding's policy.
        paused: the global automation pause switch.
        silenced_by: a silence now covering the alert, or None (pass None for a run a
            person approved: they saw the alert).
        breaker_open: the binding's breaker is open.
        consecutive_failures: the binding's failures in a row so far.
        in_flight: this binding's runs started (or handed to a worker) and not finished.

    Returns:
        "skip" (with the reason), "queue" when starting now could overshoot the breaker
        (each run in flight may still fail), else "run".
    """
    if paused:
        return Decision("skip", "skipped at dispatch: automation paused")
    if silenced_by is not None:
        return Decision("skip", f"skipped at dispatch: silenced by {silenced_by}")
    if breaker_open:
        return Decision(
            "skip",
            f"skipped at dispatch: circuit breaker open (after {binding.breaker_threshold} consecutive failures)",
        )
    if consecutive_failures + in_flight >= binding.breaker_threshold:
        return Decision(
            "queue",
            f"queued: breaker budget ({consecutive_failures} failures in a row and "
            f"{in_flight} running, threshold {binding.breaker_threshold})",
        )
    return Decision("run", "run: all checks passed")


def breaker_should_open(consecutive_failures: int, threshold: int) -> bool:
    """True when the latest run makes `consecutive_failures` reach the breaker's threshold.

    Failures count "failed", "timed_out" and "error" runs; any success resets the count
    (the caller keeps the count).
    """
    return consecutive_failures >= threshold
