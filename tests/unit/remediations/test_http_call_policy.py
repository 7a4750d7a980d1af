"""http_call reaches only hosts on its allowlist; non-public addresses need an explicit entry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from remediation_helpers import request

from remediations.builtin import builtin_path, load_builtin
from remediations.errors import ParamsError
from remediations.manifest import validate_params
from remediations.runner import RunResult, run
from remediations.templating import render_params


class Recorder(BaseHTTPRequestHandler):
    hits: list[tuple[str, str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.hits.append((self.command, self.path, self.headers.get("Host", "")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[int, list[tuple[str, str, str]]]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.hits = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], Recorder.hits
    httpd.shutdown()
    httpd.server_close()


def call(params: dict[str, Any]) -> RunResult:
    validate_params(load_builtin("http_call").params_schema, params)
    return run(request(builtin_path("http_call"), params=params))


def test_it_reaches_an_allowlisted_loopback_server(server):
    port, hits = server

    result = call(
        {"method": "POST", "url": f"http://127.0.0.1:{port}/restart?x=1", "allow_hosts": [f"127.0.0.1:{port}"]}
    )

    assert result.status == "succeeded", result.output
    assert hits == [("POST", "/restart?x=1", f"127.0.0.1:{port}")]


def test_it_refuses_a_host_that_is_not_allowlisted_with_a_clear_error(server):
    port, hits = server

    result = call({"url": f"http://127.0.0.1:{port}/", "allow_hosts": ["api.example"]})

    assert (result.status, result.exit_code) == ("failed", 4)
    assert f"destination refused: host 127.0.0.1 port {port} is not in allow_hosts" in result.output
    assert hits == []


def test_it_refuses_another_port_than_the_listed_one(server):
    port, hits = server

    result = call({"url": f"http://127.0.0.1:{port}/", "allow_hosts": ["127.0.0.1:1"]})

    assert result.exit_code == 4 and hits == []


def test_a_listed_name_that_resolves_to_loopback_is_refused_unless_the_address_is_listed(server):
    port, hits = server

    refused = call({"url": f"http://localhost:{port}/", "allow_hosts": ["localhost"]})
    allowed = call({"url": f"http://localhost:{port}/", "allow_hosts": ["localhost", "127.0.0.0/8", "::1"]})

    assert refused.exit_code == 4, refused.output
    assert "a loopback, private or otherwise non-public address" in refused.output
    assert allowed.status == "succeeded", allowed.output
    assert len(hits) == 1 and hits[0][2] == f"localhost:{port}"  # the name stays the Host


@pytest.mark.parametrize("instance", ["evil.example:80/x?", "127.0.0.1:22"])
def test_a_label_cannot_steer_the_call_to_another_host_or_port(server, instance):
    port, hits = server
    template = {"method": "POST", "url": "http://{{ labels.instance }}/restart", "allow_hosts": ["127.0.0.1"]}

    with pytest.raises(ParamsError):
        render_params(template, {"labels": {"instance": instance}})

    params = render_params(
        {**template, "url": f"http://127.0.0.1:{port}/r/{{{{ labels.i }}}}"}, {"labels": {"i": instance}}
    )
    result = call(params)

    assert result.status == "succeeded", result.output
    assert len(hits) == 1 and hits[0][1].startswith("/r/") and "?" not in hits[0][1]
    assert hits[0][2] == f"127.0.0.1:{port}"


def test_user_info_in_the_url_is_refused(server):
    port, hits = server

    result = call({"url": f"http://evil.example@127.0.0.1:{port}/", "allow_hosts": ["127.0.0.1"]})

    assert result.exit_code == 2 and "user info" in result.output and hits == []
