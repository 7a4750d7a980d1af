"""The execution state machine: every (state, action) pair, allowed or not."""

from __future__ import annotations

import itertools

import pytest

from remediations import lifecycle
from remediations.lifecycle import (
    ACTIVE,
    FAILED,
    FINAL,
    RAN,
    TRANSITIONS,
    Action,
    ExecutionState,
    IllegalTransition,
    step,
)

S, A = ExecutionState, Action

# Written out again on purpose: a change to the table must change this test too.
EXPECTED = {
    (None, A.QUEUE): S.QUEUED,
    (None, A.AWAIT_APPROVAL): S.AWAITING_APPROVAL,
    (None, A.DRY_RUN): S.DRY_RUN,
    (None, A.SHADOW): S.SHADOW,
    (None, A.SKIP): S.SKIPPED,
    (S.AWAITING_APPROVAL, A.APPROVE): S.QUEUED,
    (S.EXPIRED, A.APPROVE): S.QUEUED,
    (S.CANCELLED, A.APPROVE): S.QUEUED,
    (S.AWAITING_APPROVAL, A.REJECT): S.REJECTED,
    (S.AWAITING_APPROVAL, A.EXPIRE): S.EXPIRED,
    (S.AWAITING_APPROVAL, A.CANCEL): S.CANCELLED,
    (S.QUEUED, A.CANCEL): S.CANCELLED,
    (S.QUEUED, A.SKIP): S.SKIPPED,
    (S.QUEUED, A.START): S.RUNNING,
    (S.QUEUED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.START): S.RUNNING,
    (S.DISPATCHED, A.REQUEUE): S.QUEUED,
    (S.RUNNING, A.REQUEUE): S.QUEUED,
    (S.DISPATCHED, A.INTERRUPT): S.INTERRUPTED,
    (S.RUNNING, A.INTERRUPT): S.INTERRUPTED,
    (S.RUNNING, A.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.RUNNING, A.TIME_OUT): S.TIMED_OUT,
    (S.RUNNING, A.ERROR): S.ERROR,
}
PAIRS = list(itertools.product([None, *ExecutionState], Action))


def test_the_states_are_the_strings_stored_today() -> None:
    assert {s.value for s in ExecutionState} == {
        "awaiting_approval",
        "queued",
        "dispatched",
        "running",
        "succeeded",
        "failed",
        "timed_out",
        "error",
        "cancelled",
        "rejected",
        "skipped",
        "interrupted",
        "dry_run",
        "expired",
        "shadow",
    }


def test_the_table_is_the_one_this_test_expects() -> None:
    assert dict(TRANSITIONS) == EXPECTED


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_every_pair_moves_as_the_table_says_or_raises_naming_both(state: ExecutionState | None, action: Action) -> None:
    expected = EXPECTED.get((state, action))
    if expected is not None:
        assert step(state, action) is expected
        assert step(state.value if state else None, action.value) is expected  # stored strings work too
        assert lifecycle.allowed(state, action)
    else:
        with pytest.raises(IllegalTransition) as raised:
            step(state, action)
        assert str(action) in str(raised.value) and str(state or "no row") in str(raised.value)
        assert isinstance(raised.value, ValueError)
        assert not lifecycle.allowed(state, action)


def test_final_states_have_no_way_out_but_a_forced_approval() -> None:
    for state, action in TRANSITIONS:
        if state in FINAL:
            assert action is A.APPROVE and state in (S.EXPIRED, S.CANCELLED)


def test_every_state_is_active_or_final_and_every_one_can_be_reached() -> None:
    assert set(ACTIVE) | set(FINAL) == set(ExecutionState) and not set(ACTIVE) & set(FINAL)
    assert set(TRANSITIONS.values()) == set(ExecutionState)


def test_ran_and_failed_are_final_states() -> None:
    assert set(FAILED) < set(RAN) < set(FINAL)
    assert set(FAILED) == {"failed", "timed_out", "error"}
    assert set(RAN) == {"succeeded", "failed", "timed_out", "error", "interrupted"}


@pytest.mark.parametrize("status", ["succeeded", "failed", "timed_out", "error"])
def test_each_runner_status_is_a_move_from_running_to_that_state(status: str) -> None:
    assert step(S.RUNNING, lifecycle.finish_action(status)) == status


def test_an_unknown_state_action_or_status_is_an_illegal_transition() -> None:
    with pytest.raises(IllegalTransition, match="frozen"):
        step("frozen", "start")
    with pytest.raises(IllegalTransition, match="teleport"):
        step("queued", "teleport")
    with pytest.raises(IllegalTransition, match="'exploded'"):
        lifecycle.finish_action("exploded")
