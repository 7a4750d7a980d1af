"""Silences must target something, and no user-written label regex may take exponential time."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.automation import bindings
from app.silences.service import Matcher
from config import channels

# Python's backtracking `re` needs ~2^n steps for this pair; 28 characters took 14.5 s.
EVIL_PATTERN, EVIL_VALUE = "(a+)+b", "a" * 5000


def _silence(client, matchers, role="operator"):
    return client.as_(role).post("/api/v1/silences", json={"matchers": matchers, "comment": "c", "duration": "1h"})


@pytest.mark.parametrize(
    "matchers",
    [
        [{"name": "detector", "op": "!=", "value": "x"}],
        [{"name": "job", "op": "=~", "value": ".+"}],
        [{"name": "job", "op": "!~", "value": "nothing"}],
        [{"name": "instance", "value": ""}],  # = "" selects alerts *without* the label: nearly all of them
        [],
    ],
)
def test_it_refuses_an_operator_silence_without_an_equality_matcher(client, matchers) -> None:
    answer = _silence(client, matchers)
    assert answer.status_code == 400, answer.json
    assert "matchers" in answer.json["errors"]
    assert client.get("/api/v1/silences").json["items"] == []


def test_it_lets_an_operator_narrow_an_equality_matcher_with_negative_and_regex_ones(client) -> None:
    answer = _silence(
        client,
        [
            {"name": "service", "value": "api"},
            {"name": "env", "op": "!=", "value": "dev"},
            {"name": "instance", "op": "=~", "value": "web-[0-9]+"},
        ],
    )
    assert answer.status_code == 201, answer.json


def test_an_admin_may_still_silence_by_a_negative_matcher_alone(client) -> None:
    assert _silence(client, [{"name": "detector", "op": "!=", "value": "x"}], role="admin").status_code == 201


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)a", "a{5000}", "x" * 1025, "(unclosed"])
def test_it_refuses_a_regex_re2_cannot_run_naming_the_matcher(client, pattern) -> None:
    answer = _silence(client, [{"name": "service", "value": "api"}, {"name": "job", "op": "=~", "value": pattern}])
    assert answer.status_code == 400, answer.json
    assert "matchers[1].value" in answer.json["errors"]


@pytest.mark.timeout(60)  # the old engine would not finish this before the sun burns out
def test_a_catastrophic_pattern_matches_in_linear_time_in_silences_bindings_and_channels() -> None:
    assert Matcher("instance", "=~", EVIL_PATTERN).matches({"instance": EVIL_VALUE}) is False
    assert Matcher("instance", "!~", EVIL_PATTERN).matches({"instance": EVIL_VALUE}) is True
    binding = SimpleNamespace(enabled=True, detector=None, severities=[], matchers={"instance": "~" + EVIL_PATTERN})
    assert bindings.matches(binding, SimpleNamespace(labels={"instance": EVIL_VALUE})) is False  # type: ignore[arg-type]
    channel = channels.parse_channel(
        {"type": "teams", "name": "t", "url": "http://127.0.0.1:9/hook", "matchers": {"instance": "~" + EVIL_PATTERN}}
    )
    assert channels.matches(channel, event="alert.firing", severity="info", labels={"instance": EVIL_VALUE}) is False


def test_a_stored_pattern_re2_refuses_silences_nothing_instead_of_failing_processing() -> None:
    assert Matcher("instance", "=~", r"(a)\1").matches({"instance": "aa"}) is False
    assert Matcher("instance", "!~", r"(a)\1").matches({"instance": "b"}) is False


def test_a_binding_regex_re2_cannot_run_is_a_400_naming_the_label(client) -> None:
    answer = client.post("/api/v1/bindings", json={"name": "b", "remediation": "fix", "matchers": {"a": r"~(x)\1"}})
    assert answer.status_code == 400 and "matchers.a" in answer.json["errors"]


@pytest.mark.timeout(60)
def test_a_scrape_query_regex_runs_on_re2_and_a_bad_one_is_a_config_error() -> None:
    from detectors.errors import SourceError
    from detectors.sources.scrape import parse_query

    query = parse_query(f'up{{instance=~"{EVIL_PATTERN}"}}', source="s")
    assert query.matches({"instance": EVIL_VALUE}) is False
    with pytest.raises(SourceError, match="label instance: invalid regex"):
        parse_query(r'up{instance=~"(a)\\1"}', source="s")
