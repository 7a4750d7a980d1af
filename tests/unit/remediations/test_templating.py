"""Alert data fills binding params as data: hostile labels arrive literally, nothing executes."""

from __future__ import annotations

import json

import pytest
from remediation_helpers import request

from remediations.errors import ParamsError
from remediations.runner import run
from remediations.templating import render_params

ALERT = {
    "fingerprint": "f1",
    "detector": "api-latency",
    "value": 0.93,
    "labels": {"instance": "web-1:9100", "job": "api"},
}


def test_a_whole_string_reference_takes_the_value_with_its_type():
    assert render_params({"v": "{{ value }}", "l": "{{labels}}"}, ALERT) == {
        "v": 0.93,
        "l": {"instance": "web-1:9100", "job": "api"},
    }


def test_embedded_references_are_rendered_as_text():
    params = render_params(
        {"url": "http://web-1:9100/restart?job={{labels.job}}", "msg": "value={{ value }} on {{ labels.instance }}"},
        ALERT,
    )

    assert params == {"url": "http://web-1:9100/restart?job=api", "msg": "value=0.93 on web-1:9100"}


def test_nested_objects_and_lists_are_rendered_and_the_template_is_unchanged():
    template = {"headers": {"X-Instance": "{{ labels.instance }}"}, "args": ["{{ detector }}", 3]}

    params = render_params(template, ALERT)

    assert params == {"headers": {"X-Instance": "web-1:9100"}, "args": ["api-latency", 3]}
    assert template["headers"] == {"X-Instance": "{{ labels.instance }}"}


def test_unknown_references_are_reported_by_param_path():
    with pytest.raises(ParamsError) as caught:
        render_params({"unit": "{{ labels.unit }}", "x": {"y": "a {{ nope }} {{ labels.job }}"}}, ALERT)

    assert caught.value.errors == {"$.unit": "unknown reference 'labels.unit'", "$.x.y": "unknown reference 'nope'"}


def test_no_expression_or_attribute_access_is_evaluated():
    context = {"labels": {"a": "x"}}
    template = {"p": "{{ labels.a.__class__ }}", "q": "{{ 1 + 1 }}", "r": "{% if 1 %}x{% endif %}"}

    with pytest.raises(ParamsError) as caught:
        render_params(template, context)

    assert set(caught.value.errors) == {"$.p"}  # q and r are not references: left as text


HOSTILE = [
    "; rm -rf /",
    "$(touch {pwned})",
    "`touch {pwned}`",
    "{{{{ labels.job }}}}",
    'a\' "b" && touch {pwned} | cat\n#',
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_label_values_pass_literally_into_params(hostile, tmp_path):
    value = hostile.format(pwned=tmp_path / "pwned")

    params = render_params(
        {"target": "{{ labels.evil }}", "msg": "host {{ labels.evil }}!"}, {"labels": {"evil": value, "job": "api"}}
    )

    assert params == {"target": value, "msg": f"host {value}!"}


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_label_values_reach_the_script_literally_and_run_nothing(hostile, script, tmp_path):
    value = hostile.format(pwned=tmp_path / "pwned")
    params = render_params({"target": "{{ labels.evil }}"}, {"labels": {"evil": value}})
    # The script uses the value as a careless shell script would: in a quoted echo.
    path = script('#!/bin/sh\nprintf "%s" "$VIGIL_PARAM_TARGET"\necho\ncat\n')

    result = run(request(path, params=params))

    env_line, stdin_line = result.output.split("\n", 1)[0], result.output.rsplit("\n", 2)[-2]
    if "\n" not in value:
        assert env_line == value
    assert json.loads(stdin_line)["params"]["target"] == value
    assert not (tmp_path / "pwned").exists()
