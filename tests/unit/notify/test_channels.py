"""Channel configuration: validation into typed models, and which events a channel wants."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from config.channels import EVENTS, GenericChannel, SlackChannel, matches, parse_channel

URL = "https://hooks.slack.example/services/T000/B000/s3cr3tT0ken"


def channel(**kw: Any) -> Any:
    raw: dict[str, Any] = {"type": "slack", "name": "ops", "url": URL}
    raw.update(kw)
    return parse_channel(raw)


def test_it_picks_the_model_from_the_type():
    assert isinstance(channel(), SlackChannel)
    signed = channel(type="generic", secret="0123456789abcdef")
    assert isinstance(signed, GenericChannel)


def test_it_defaults_to_every_event_and_info_severity():
    ops = channel()
    assert tuple(ops.events) == EVENTS
    assert ops.min_severity == "info"
    assert (ops.repeat_interval_s, ops.group_wait_s, ops.timeout_s, ops.give_up_after_s) == (14400, 10, 10, 3600)


def test_it_accepts_durations_written_with_units():
    ops = channel(repeat_interval_s="4h", group_wait_s="30s", timeout_s=5)
    assert (ops.repeat_interval_s, ops.group_wait_s, ops.timeout_s) == (14400, 30, 5)


def test_it_never_shows_the_url_in_its_repr():
    ops = channel()
    assert "s3cr3t" not in repr(ops) and "s3cr3t" not in str(ops)
    assert ops.url.get_secret_value() == URL


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"type": "telegram"}, "type"),
        ({"colour": "red"}, "colour"),
        ({"name": "-ops"}, "name"),
        ({"name": "a" * 64}, "name"),
        ({"events": ["alert.exploded"]}, "events"),
        ({"events": []}, "events"),
        ({"min_severity": "fatal"}, "min_severity"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"matchers": {"env": "~prod("}}, "matchers"),
        ({"type": "generic"}, "secret"),
        ({"type": "generic", "secret": "short"}, "secret"),
    ],
)
def test_it_rejects_invalid_settings_naming_the_key(change, fragment):
    with pytest.raises(ValidationError) as info:
        channel(**change)
    assert fragment in str(info.value)


def test_it_rejects_a_url_that_is_not_http_without_echoing_it():
    with pytest.raises(ValidationError) as info:
        channel(url="ftp://files.example/s3cr3tT0ken")
    assert "expected an http(s) webhook URL, got something else" in str(info.value)
    assert "s3cr3t" not in str(info.value)
    (error,) = info.value.errors()
    assert "s3cr3t" not in error["msg"]


def test_an_apprise_channel_takes_any_apprise_scheme():
    assert channel(type="apprise", url="tgram://bot-token/chat-id").type == "apprise"
    with pytest.raises(ValidationError):
        channel(type="apprise", url="not a url")


def test_it_matches_only_subscribed_events():
    ops = channel(events=["alert.firing"])
    assert matches(ops, event="alert.firing", severity="info", labels={})
    assert not matches(ops, event="alert.resolved", severity="info", labels={})


@pytest.mark.parametrize(("severity", "expected"), [("info", False), ("warning", True), ("critical", True)])
def test_it_matches_severities_at_or_above_its_minimum(severity, expected):
    ops = channel(min_severity="warning")
    assert matches(ops, event="alert.firing", severity=severity, labels={}) is expected


def test_it_refuses_to_guess_about_an_unknown_severity():
    with pytest.raises(ValueError, match="unknown severity 'fatal'"):
        matches(channel(), event="alert.firing", severity="fatal", labels={})


def test_every_matcher_must_hold():
    ops = channel(matchers={"team": "payments", "env": "prod"})
    assert matches(ops, event="alert.firing", severity="info", labels={"team": "payments", "env": "prod", "x": "y"})
    assert not matches(ops, event="alert.firing", severity="info", labels={"team": "payments", "env": "dev"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [("prod", True), ("staging", True), ("preprod", False), ("prod-eu", False), ("", False)],
)
def test_a_tilde_matcher_is_a_regex_over_the_whole_value(value, expected):
    ops = channel(matchers={"env": "~prod|staging"})
    assert matches(ops, event="alert.firing", severity="info", labels={"env": value}) is expected


def test_a_missing_label_counts_as_empty():
    ops = channel(matchers={"team": ""})
    assert matches(ops, event="alert.firing", severity="info", labels={})
    assert not matches(ops, event="alert.firing", severity="info", labels={"team": "a"})
    assert not matches(channel(matchers={"team": "a"}), event="alert.firing", severity="info", labels={})


def test_a_value_starting_with_a_tilde_is_matched_by_a_regex():
    ops = channel(matchers={"path": "~~home"})
    assert matches(ops, event="alert.firing", severity="info", labels={"path": "~home"})
