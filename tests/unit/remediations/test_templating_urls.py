"""Alert data never chooses where a request goes: no scheme, host or port from a label."""

from __future__ import annotations

import pytest

from remediations.errors import ParamsError
from remediations.templating import render_params


def context(**labels: str) -> dict[str, object]:
    return {"labels": labels, "value": 1.0}


@pytest.mark.parametrize("instance", ["evil.example:80/x?", "127.0.0.1:22", "web-1"])
def test_it_refuses_a_label_in_the_host_of_a_url(instance):
    with pytest.raises(ParamsError) as caught:
        render_params({"url": "http://{{ labels.instance }}/restart"}, context(instance=instance))

    assert "may not choose a URL's scheme, host or port" in caught.value.errors["$.url"]


def test_it_refuses_a_label_in_the_port_or_user_info_of_a_url():
    for template in ("http://web-1:{{ labels.port }}/x", "https://{{ labels.user }}@web-1/x"):
        with pytest.raises(ParamsError) as caught:
            render_params({"url": template}, context(port="22", user="a"))
        assert "$.url" in caught.value.errors


@pytest.mark.parametrize(
    "template", ["{{ labels.target }}", "{{ labels.scheme }}://web-1/x", "http{{ labels.s }}://web-1/"]
)
def test_it_refuses_a_label_that_makes_the_whole_url_or_its_scheme(template):
    labels = {"target": "http://evil.example/", "scheme": "gopher", "s": "s"}

    with pytest.raises(ParamsError) as caught:
        render_params({"url": template}, {"labels": labels})

    assert "$.url" in caught.value.errors


def test_a_host_like_label_in_the_path_is_percent_encoded_and_cannot_move_the_host():
    params = render_params(
        {"url": "http://web-1:9100/restart/{{ labels.instance }}"}, context(instance="evil.example:80/x?y=1#z")
    )

    assert params["url"] == "http://web-1:9100/restart/evil.example%3A80%2Fx%3Fy%3D1%23z"


def test_a_query_value_cannot_add_parameters():
    params = render_params({"url": "http://web-1/restart?job={{ labels.job }}&force=0"}, context(job="api&force=1"))

    assert params["url"] == "http://web-1/restart?job=api%26force%3D1&force=0"


def test_dot_segments_are_encoded_so_a_label_cannot_climb_the_path():
    params = render_params({"url": "http://web-1/units/{{ labels.a }}/{{ labels.b }}/x"}, context(a="..", b="."))

    assert params["url"] == "http://web-1/units/%2E%2E/%2E/x"


def test_allow_hosts_is_never_templated():
    with pytest.raises(ParamsError) as caught:
        render_params(
            {"url": "http://web-1/", "allow_hosts": ["{{ labels.instance }}"]}, context(instance="evil.example")
        )

    assert "alert data must not choose destinations" in caught.value.errors["$.allow_hosts"]


def test_text_that_is_not_a_url_keeps_its_labels_verbatim():
    params = render_params({"message": "restart {{ labels.instance }} now"}, context(instance="evil.example:80/x?"))

    assert params == {"message": "restart evil.example:80/x? now"}
