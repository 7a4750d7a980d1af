import json
from pathlib import Path

from sqlalchemy import select

from app.alerts.models import AlertEvent
from app.audit.models import AuditRecord
from app.automation import bindings, service
from tests.integration.automation.conftest import T0


def decisions(database) -> list[str]:
    with database.read() as session:
        return [
            e.details["reason"]
            for e in session.scalars(
                select(AlertEvent).where(AlertEvent.kind == "remediation.decided").order_by(AlertEvent.id)
            )
        ]


def test_a_firing_alert_runs_its_bound_script_with_the_alert_on_stdin(auto) -> None:
    auto.register()
    auto.bind(params={"host": "{{ labels.instance }}"})
    auto.fire()
    [execution] = auto.wait_idle()
    assert execution.state == "succeeded" and execution.exit_code == 0
    payload = json.loads(execution.output.split("\ndone")[0])
    assert payload["params"] == {"host": "web-1"}
    assert payload["alert"]["labels"] == {"instance": "web-1"}


def test_hostile_label_values_reach_the_script_as_literal_strings(auto, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    auto.register(script='#!/bin/sh\nprintf "%s" "$VIGIL_PARAM_TARGET"\n')
    auto.bind(params={"target": "{{ labels.instance }}"})
    hostile = f"; touch {marker}; $(touch {marker}) `touch {marker}` {{{{ labels.x }}}}"
    auto.fire(labels={"instance": hostile, "x": "y"})
    [execution] = auto.wait_idle()
    assert execution.output.strip() == hostile
    assert not marker.exists()


def test_a_failing_script_is_failed_with_its_output_kept(auto) -> None:
    auto.register(script="#!/bin/sh\necho about to fail\nexit 3\n")
    auto.bind()
    auto.fire()
    [execution] = auto.wait_idle()
    assert (execution.state, execution.exit_code) == ("failed", 3)
    assert "about to fail" in execution.output


def test_cooldown_skips_a_second_run_for_the_same_alert_fingerprint(auto) -> None:
    auto.register()
    auto.bind(cooldown="10m")
    auto.fire(0)
    auto.wait_idle()
    auto.resolve(1)
    auto.fire(2)
    auto.wait_idle()
    auto.resolve(3)
    auto.fire(20)  # after the cooldown: runs again
    states = [e.state for e in auto.wait_idle()]
    assert states == ["succeeded", "skipped", "succeeded"]
    assert decisions(auto.database)[1].startswith("skipped: cooldown")


def test_rate_limit_caps_runs_per_window_across_fingerprints(auto) -> None:
    auto.register()
    auto.bind(rate_limit=2, rate_window="1h", cooldown=0)
    for i in range(4):
        auto.fire(i, labels={"instance": f"web-{i}"})
    states = [e.state for e in auto.wait_idle()]
    assert states == ["succeeded", "succeeded", "skipped", "skipped"]
    assert decisions(auto.database)[2].startswith("skipped: rate limit")


def test_the_breaker_opens_after_consecutive_failures_and_an_operator_closes_it(auto) -> None:
    auto.register(script="#!/bin/sh\nexit 1\n")
    binding_id = auto.bind(breaker_threshold=2, cooldown=0, rate_limit=100)
    for i in range(3):
        auto.fire(i, labels={"instance": f"web-{i}"})
        auto.wait_idle()
    assert [e.state for e in auto.executions()] == ["failed", "failed", "skipped"]
    assert "circuit breaker open" in decisions(auto.database)[2]
    with auto.database.write() as session:
        bindings.close_breaker(session, binding_id=binding_id, by="alice")
    auto.fire(5, labels={"instance": "web-5"})
    assert auto.wait_idle()[-1].state == "failed"  # it ran again
    with auto.database.read() as session:
        actions = [r.action for r in session.scalars(select(AuditRecord))]
    assert "binding.breaker_open" in actions and "binding.breaker_close" in actions


def test_pause_stops_automatic_runs_and_resume_restores_them(auto) -> None:
    auto.register()
    auto.bind(cooldown=0)
    with auto.database.write() as session:
        service.set_paused(session, paused=True, by="alice", now=T0)
    auto.fire(0, labels={"instance": "a"})
    with auto.database.write() as session:
        service.set_paused(session, paused=False, by="alice", now=T0)
    auto.fire(1, labels={"instance": "b"})
    assert [e.state for e in auto.wait_idle()] == ["skipped", "succeeded"]
    assert decisions(auto.database)[0] == "skipped: automation paused"


def test_approval_mode_waits_for_an_operator_and_records_the_approver(auto) -> None:
    auto.register()
    auto.bind(mode="approve")
    auto.fire()
    [waiting] = auto.wait_idle()
    assert waiting.state == "awaiting_approval"
    with auto.database.write() as session:
        service.approve(session, execution_id=waiting.id, by="alice", now=T0)
    [done] = auto.wait_idle()
    assert (done.state, done.approved_by) == ("succeeded", "alice")


def test_dry_run_mode_records_what_would_run_without_running(auto, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    auto.register(script=f"#!/bin/sh\ntouch {marker}\n")
    auto.bind(mode="dry_run")
    auto.fire()
    [execution] = auto.wait_idle()
    assert execution.state == "dry_run" and not marker.exists()


def test_two_firings_for_one_fingerprint_run_one_remediation(auto) -> None:
    auto.register(script="#!/bin/sh\nsleep 1\n")
    auto.bind(cooldown=0)
    auto.fire(0)
    from app.alerts.models import Alert

    with auto.database.write() as session:  # a second firing decision while the first runs
        alert = session.scalars(select(Alert)).one()
        service.on_firing(session, alert, now=T0)
    states = sorted(e.state for e in auto.wait_idle())
    assert states == ["skipped", "succeeded"]


def test_a_success_followed_by_resolution_is_effective_and_counted_in_stats(auto) -> None:
    auto.register()
    auto.bind(cooldown=0)
    auto.fire(0)
    auto.wait_idle()
    auto.resolve(0.5)  # within verify_window_s (60 s) of the run's end
    auto.fire(3, labels={"instance": "other"})
    auto.wait_idle()
    from datetime import datetime, timedelta, timezone

    with auto.database.write() as session:  # runs finish on the real clock; judge a day later
        assert service.expire_verifications(session, now=datetime.now(timezone.utc) + timedelta(days=1)) == 1
        stats = service.stats(session, "fix")
    assert [e.outcome for e in auto.executions()] == ["effective", "not_effective"]
    assert stats["runs"] == 2 and stats["success_rate"] == 1.0 and stats["effectiveness_rate"] == 0.5
    assert stats["median_time_to_recovery_s"] is not None


def test_only_allowed_environment_variables_reach_the_script(auto) -> None:
    auto.register(script="#!/bin/sh\nenv\n", allowed_env=["ALLOWED_TOKEN"])
    auto.bind()
    auto.fire()
    [execution] = auto.wait_idle()
    assert "ALLOWED_TOKEN=t0k" in execution.output
    assert "VIGIL_TEST_DATABASE_URL" not in execution.output and "PYTEST" not in execution.output
