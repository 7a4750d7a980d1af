"""Replay alert history through one binding: the pure core of a rehearsal (no database).

Every firing in time order goes through the live path's own pieces: the binding matcher
(app.automation.bindings.matches), the "already queued or running" check, the policy
(remediations.decide) and the parameter check. What the live path reads from the
executions table (last run per fingerprint, runs in the rate window, runs waiting or
running, the breaker's failure count) is kept here as simulated runs instead.

Assumptions (said in every answer, see ASSUMPTIONS):
- a run's outcome and duration are those of the same remediation's past run on the same
  alert where one is known, else success in no time;
- a request for approval with no known past answer waits until its alert resolves or its
  approval times out, then counts as not run;
- the breaker closes when a person closed the real binding's breaker (audit), never alone;
- concurrency counts this binding's runs only (other bindings' runs are not replayed).
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, cast

from app.alerts.models import Alert
from app.automation import bindings as binding_service
from app.automation.models import Binding
from remediations import BindingPolicy, ParamsError, breaker_should_open, decide, render_params, validate_params

# RAN: final states that were a run; FAILED: those count towards the breaker (service.py reads replay.RAN).
from remediations.lifecycle import FAILED as FAILED
from remediations.lifecycle import RAN as RAN

ASSUMPTIONS = {
    "outcome": "the same remediation's past run on the same alert where known, else success",
    "duration": "the past run's duration where known, else 0 s",
    "approval": "an unanswered approval waits until its alert resolves or it expires, then counts as not run",
    "breaker": "closes only when the real binding's breaker was closed by a person",
    "concurrency": "counts this binding's runs only",
    "history": "starts empty at `since`: runs before the period are not replayed",
}
_tuple = tuple.__new__


class Firing(NamedTuple):
    """An alert as the live path saw it when it fired (a tuple: 100,000 are made per rehearsal)."""

    alert_id: int
    at: datetime
    fingerprint: str
    detector: str
    severity: str
    kind: str
    labels: Mapping[str, str]
    resolved_at: datetime | None = None
    context: Mapping[str, Any] = {}  # what parameter templates see (read only)
    labels_key: str = ""  # the labels' stored JSON text when known: matching is cached by it


@dataclass(frozen=True)
class Outcome:
    """A past run of the remediation on one alert: its final state and how long it took."""

    state: str
    duration_s: float


@dataclass(frozen=True)
class Silence:
    """A silence of the period: when it held, and whether it matches a label set."""

    id: int
    starts_at: datetime
    ends_at: datetime
    matches: Callable[[Mapping[str, str]], bool]


@dataclass
class History:
    """Facts of the period besides the alerts: pause switch changes, silences, breaker closes."""

    paused_at_start: bool = False
    pauses: list[tuple[datetime, bool]] = field(default_factory=list)  # (at, paused), by time
    silences: list[Silence] = field(default_factory=list)  # by id, as the live lookup
    breaker_closes: list[datetime] = field(default_factory=list)
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # by alert id
    runnable_error: str | None = None  # why the remediation cannot run now (skips every decision)
    max_concurrency: int = 1
    params_schema: Mapping[str, Any] = field(default_factory=dict)


class Rehearsed(NamedTuple):
    """One decision: the same action and reason text the live path records."""

    alert_id: int
    at: datetime
    fingerprint: str
    action: str  # run | queue | approve | dry_run | skip
    reason: str


@dataclass
class _Run:
    at: datetime
    fingerprint: str
    counts_until: datetime | None  # a run for cooldown and rate limits until then (None: for good)
    active_until: datetime  # holds the fingerprint's slot (and a concurrency slot when it runs)
    takes_slot: bool  # queued or running, not waiting for a person
    lapsed: bool = False  # counts_until has passed while in the rate window: it no longer counts there
    gone: bool = False  # left the rate window


def guard(reason: str) -> str:
    """The guard's short name from a decision's reason, for counts."""
    for key, name in (
        ("paused", "paused"),
        ("silenced", "silenced"),
        ("breaker", "breaker"),
        ("cooldown", "cooldown"),
        ("rate limit", "rate_limit"),
        ("already queued or running", "already_active"),
        ("concurrency", "concurrency"),
    ):
        if key in reason:
            return name
    return "other"


class _Pauses:
    def __init__(self, history: History) -> None:
        self.paused, self.events, self.i = history.paused_at_start, history.pauses, 0

    def at(self, now: datetime) -> bool:
        while self.i < len(self.events) and self.events[self.i][0] <= now:
            self.paused = self.events[self.i][1]
            self.i += 1
        return self.paused


class _Breaker:
    """Consecutive failures applied when each simulated run finishes; person closes replayed."""

    def __init__(self, policy: BindingPolicy, closes: list[datetime]) -> None:
        self.policy, self.failures, self.open = policy, 0, False
        self.events: list[tuple[datetime, int, str]] = [(at, i, "") for i, at in enumerate(closes)]
        heapq.heapify(self.events)
        self.seq = len(closes)

    def finish_at(self, at: datetime, state: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, state))

    def advance(self, now: datetime) -> None:
        while self.events and self.events[0][0] <= now:
            _at, _i, state = heapq.heappop(self.events)
            if state == "":  # a person closed the breaker
                self.open, self.failures = False, 0
            elif state in FAILED:
                self.failures += 1
                self.open = self.open or breaker_should_open(self.failures, self.policy.breaker_threshold)
            elif state == "succeeded":
                self.failures = 0


class Rehearsal:
    """Decides firing after firing; feed them in time order (then alert id, like the live path).

    Per firing this is the hot loop of a rehearsal (100,000 of them must answer in 2 s): the
    cheap cases are checked inline and whatever depends only on labels is computed once per
    label set (matching, silences' matchers), never once per firing.
    """

    def __init__(self, binding: Binding, history: History) -> None:
        self.binding, self.history = binding, history
        self.policy = binding_service.policy(binding)
        self.pauses = _Pauses(history)
        self.breaker = _Breaker(self.policy, history.breaker_closes)
        self.window: deque[_Run] = deque()  # runs started within the rate window
        self.active: list[datetime] = []  # heap: when each run holding a concurrency slot frees it
        self.last_by_fp: dict[str, list[_Run]] = {}
        self._params_ok: dict[str, str | None] = {}
        self._matched: dict[tuple[Any, ...], bool] = {}
        self._silences: dict[tuple[Any, ...], list[Silence]] = {}  # those whose matchers match, by label set
        self._lapsing: list[tuple[datetime, int, _Run]] = []  # heap: runs in the window that stop counting
        self._lapsed = 0  # runs in the window that no longer count
        self._seq = 0
        self._rate_window = timedelta(seconds=self.policy.rate_window_s)
        self._templated = "{{" in json.dumps(binding.params)
        # The same parameters for every alert (no template): one schema check, done now.
        self._params_fixed = None if self._templated else self._params_error(None)

    def matches(self, firing: Firing) -> bool:
        if firing.kind in ("error", "nodata"):
            return False
        key = (firing.detector, firing.severity, firing.labels_key or tuple(sorted(firing.labels.items())))
        found = self._matched.get(key)
        if found is None:  # a few hundred distinct label sets among 100,000 alerts: match each once
            # bindings.matches reads only detector, severity and labels: a plain record will do.
            found = self._matched[key] = binding_service.matches(self.binding, cast(Alert, firing))
        return found

    def decide(self, firing: Firing) -> Rehearsed:
        now = firing.at
        breaker = self.breaker
        if breaker.events and breaker.events[0][0] <= now:
            breaker.advance(now)
        if self.history.runnable_error is not None:
            return self._out(firing, "skip", f"skipped: {self.history.runnable_error}")
        fp_runs = self.last_by_fp.get(firing.fingerprint)
        last_run_at = None
        if fp_runs:
            if len(fp_runs) > 1:
                fp_runs = self._fingerprint_runs(firing.fingerprint, fp_runs, now)
            for run in fp_runs:
                if run.active_until > now:
                    return self._out(firing, "skip", "skipped: already queued or running for this alert")
            last_run_at = _last_counted(fp_runs, now)
        pauses = self.pauses
        decision = decide(
            binding=self.policy,
            now=now,
            paused=pauses.at(now) if pauses.events else pauses.paused,
            silenced_by=self._silenced_by(firing) if self.history.silences else None,
            last_run_at_for_fingerprint=last_run_at,
            runs_in_window=self._runs_in_window(now) if self.window else 0,
            breaker_open=breaker.open,
            running_for_remediation=self._waiting_or_running(now) if self.active else 0,
            max_concurrency=self.history.max_concurrency,
        )
        params_error = self._params_error(firing) if self._templated else self._params_fixed
        if params_error is not None:
            return self._out(firing, "skip", f"skipped: {params_error}")
        action = decision.action
        if action in ("run", "queue", "approve", "shadow"):
            self._add_run(firing, action)
        # tuple.__new__ skips the named tuple's Python-level __new__: half the cost, 100,000 times.
        return _tuple(Rehearsed, (firing.alert_id, now, firing.fingerprint, action, decision.reason))

    def _fingerprint_runs(self, fingerprint: str, runs: list[_Run], now: datetime) -> list[_Run]:
        """This fingerprint's runs that still matter: the active ones and the newest that counts."""
        newest = next((r for r in reversed(runs) if _counts(r, now)), None)
        kept = [r for r in runs if r is newest or r.active_until > now]
        self.last_by_fp[fingerprint] = kept
        return kept

    def _out(self, firing: Firing, action: str, reason: str) -> Rehearsed:
        return Rehearsed(firing.alert_id, firing.at, firing.fingerprint, action, reason)

    def _silenced_by(self, firing: Firing) -> str | None:
        key = (firing.detector, firing.labels_key or tuple(sorted(firing.labels.items())))
        matching = self._silences.get(key)
        if matching is None:  # which silences' matchers take these labels does not change with time
            labels = {**firing.labels, "detector": firing.detector}
            matching = self._silences[key] = [s for s in self.history.silences if s.matches(labels)]
        for silence in matching:  # still by id: the first in force wins, as the live lookup
            if silence.starts_at <= firing.at < silence.ends_at:
                return f"silence {silence.id}"
        return None

    def _runs_in_window(self, now: datetime) -> int:
        """Runs started within the rate window that still count (time only moves forward)."""
        window, lapsing = self.window, self._lapsing
        while lapsing and lapsing[0][0] <= now:
            run = heapq.heappop(lapsing)[2]
            if not run.gone:
                run.lapsed = True
                self._lapsed += 1
        if not window:
            return 0
        since = now - self._rate_window
        while window and window[0].at < since:
            run = window.popleft()
            run.gone = True
            self._lapsed -= run.lapsed
        return len(window) - self._lapsed

    def _waiting_or_running(self, now: datetime) -> int:
        active = self.active
        while active and active[0] <= now:
            heapq.heappop(active)
        return len(active)

    def _params_error(self, firing: Firing | None) -> str | None:
        rendered = render_params(self.binding.params, firing.context) if firing else self.binding.params
        key = json.dumps(rendered, sort_keys=True, default=str)
        if key not in self._params_ok:  # a schema check per distinct rendering, not per alert
            try:
                validate_params(self.history.params_schema, rendered)
                self._params_ok[key] = None
            except ParamsError as exc:
                self._params_ok[key] = str(exc)
        return self._params_ok[key]

    def _add_run(self, firing: Firing, action: str) -> None:
        known = self.history.outcomes.get(firing.alert_id)
        if action == "shadow":  # a would-run: counts for cooldown and rate, never runs, never fails
            run = _Run(firing.at, firing.fingerprint, None, firing.at, False)
        elif action == "approve" and known is None:
            timeout = firing.at + timedelta(seconds=self.binding.approval_timeout_s)
            end = min(firing.resolved_at, timeout) if firing.resolved_at else timeout
            run = _Run(firing.at, firing.fingerprint, end, end, False)
        else:
            outcome = known or Outcome("succeeded", 0.0)
            end = firing.at + timedelta(seconds=outcome.duration_s)
            counts = None if outcome.state in RAN else end
            run = _Run(firing.at, firing.fingerprint, counts, end, action != "approve")
            if outcome.state in RAN:
                self.breaker.finish_at(end, outcome.state)
        self.window.append(run)
        if run.counts_until is not None:
            self._seq += 1
            heapq.heappush(self._lapsing, (run.counts_until, self._seq, run))
        if run.takes_slot and run.active_until > firing.at:
            heapq.heappush(self.active, run.active_until)
        self.last_by_fp.setdefault(firing.fingerprint, []).append(run)


def _last_counted(runs: list[_Run], now: datetime) -> datetime | None:
    last = None
    for r in runs:
        if (r.counts_until is None or r.counts_until > now) and (last is None or r.at > last):
            last = r.at
    return last


def _counts(run: _Run, now: datetime) -> bool:
    return run.counts_until is None or run.counts_until > now


def replay(binding: Binding, firings: Iterable[Firing], history: History) -> Iterable[Rehearsed]:
    """Every decision the binding would have made, in order (firings sorted by time, id)."""
    rehearsal = Rehearsal(binding, history)
    for firing in firings:
        if rehearsal.matches(firing):
            yield rehearsal.decide(firing)


def _item(d: Rehearsed) -> dict[str, Any]:
    return {
        "alert_id": d.alert_id,
        "at": d.at.isoformat(),
        "fingerprint": d.fingerprint,
        "action": d.action,
        "reason": d.reason,
    }


def summarise(decisions: Iterable[Rehearsed], *, limit: int = 1000) -> dict[str, Any]:
    """Runs and skips (each list up to `limit`), counts per day and guard, the busiest hour."""
    runs: list[dict[str, Any]] = []
    skips: list[dict[str, Any]] = []
    # One counter per (day, hour, action) and one per skip reason's words before its numbers:
    # two dict updates per decision; days, actions, guards and hours are added up at the end.
    counts: dict[tuple[date, int, str], int] = {}
    heads: dict[str, int] = {}
    tz = None
    for d in decisions:
        action, at = d.action, d.at
        key = (at.date(), at.hour, action)
        counts[key] = counts.get(key, 0) + 1
        if action == "skip":
            head = d.reason.split(" (", 1)[0]
            heads[head] = heads.get(head, 0) + 1
            if len(skips) < limit:
                skips.append({**_item(d), "guard": guard(head)})
        elif len(runs) < limit:
            runs.append(_item(d))
        tz = at.tzinfo
    return {**_totals(counts, heads, tz, limit), "runs": runs, "skips": skips, "assumptions": ASSUMPTIONS}


def _totals(counts: dict[tuple[date, int, str], int], heads: dict[str, int], tz: Any, limit: int) -> dict[str, Any]:
    per_day: dict[date, list[int]] = {}  # [runs, skipped]
    per_hour: dict[tuple[date, int], int] = {}
    by_action: dict[str, int] = {}
    for (day, hour, action), n in counts.items():
        by_action[action] = by_action.get(action, 0) + n
        slot = per_day.setdefault(day, [0, 0])
        slot[action == "skip"] += n
        if action != "skip":
            per_hour[(day, hour)] = per_hour.get((day, hour), 0) + n
    by_guard: dict[str, int] = {}
    for head, n in heads.items():
        by_guard[guard(head)] = by_guard.get(guard(head), 0) + n
    runs = sum(v[0] for v in per_day.values())
    skipped = sum(v[1] for v in per_day.values())
    busiest = min(per_hour.items(), key=lambda kv: (-kv[1], kv[0]), default=None)  # the earliest of the busiest
    return {
        "summary": {
            "decisions": runs + skipped,
            "runs": runs,
            "skipped": skipped,
            "by_action": by_action,
            "skipped_by_guard": by_guard,
        },
        "truncated": runs > limit or skipped > limit,
        "per_day": [{"day": k.isoformat(), "runs": v[0], "skipped": v[1]} for k, v in sorted(per_day.items())],
        "busiest_hour": {
            "hour": datetime.combine(busiest[0][0], time(busiest[0][1]), tzinfo=tz).isoformat(),
            "runs": busiest[1],
        }
        if busiest
        else None,
    }
