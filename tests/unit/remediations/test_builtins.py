"""Shipped scripts, run through the real runner: http_call, clean_old_files, echo, restart."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from remediation_helpers import PYTHON, request

from remediations.builtin import builtin_path, list_builtins, load_builtin
from remediations.errors import ManifestError, ParamsError
from remediations.manifest import content_hash, validate_params
from remediations.runner import RunResult, run

BUILTINS = ["clean_old_files", "echo", "http_call", "restart_systemd_unit"]


def run_builtin(name: str, params: dict[str, Any], **overrides: Any) -> RunResult:
    """Validate params against the builtin's schema (as the app does), then run it."""
    validate_params(load_builtin(name).params_schema, params)
    return run(request(builtin_path(name), params=params, **overrides))


def test_every_builtin_loads_as_a_valid_executable_manifest():
    builtins = list_builtins()

    assert sorted(builtins) == BUILTINS
    for name, manifest in builtins.items():
        assert manifest.builtin == name and manifest.description
        assert os.access(builtin_path(name), os.X_OK)
        assert content_hash(manifest) == content_hash(load_builtin(name))


def test_an_unknown_builtin_is_a_manifest_error():
    with pytest.raises(ManifestError, match="no builtin remediation named 'nope'"):
        load_builtin("nope")


# --- echo -------------------------------------------------------------------------------


def test_echo_prints_the_alert_context_and_params():
    result = run_builtin("echo", {"message": "hello"}, alert={"fingerprint": "fp9", "labels": {"job": "api"}})

    assert result.status == "succeeded"
    assert "message: hello" in result.output
    assert 'alert: {"fingerprint": "fp9", "labels": {"job": "api"}}' in result.output
    assert "env VIGIL_ALERT_FINGERPRINT=fp9" in result.output
    assert "env VIGIL_PARAM_MESSAGE=hello" in result.output


def test_echo_can_rehearse_a_failure():
    result = run_builtin("echo", {"exit_code": 4})

    assert (result.status, result.exit_code) == ("failed", 4)


def test_echo_prints_hostile_params_literally(tmp_path):
    evil = f"$(touch {tmp_path}/pwned); `touch {tmp_path}/pwned2`"

    result = run_builtin("echo", {"message": evil})

    assert f"message: {evil}" in result.output
    assert list(tmp_path.iterdir()) == []


# --- http_call --------------------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Records each request; answers with the status named in the path (/status/503)."""

    received: list[dict[str, Any]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.received.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
        )
        status = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/status/") else 200
        body = f"answer to {self.command} {self.path}\n".encode() * 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    received: list[dict[str, Any]] = []
    Recorder.received = received
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_http_call_sends_method_headers_and_json_body(http_server):
    base, received = http_server

    result = run_builtin(
        "http_call",
        {
            "method": "POST",
            "url": f"{base}/hooks/restart",
            "allow_hosts": ["127.0.0.1"],
            "headers": {"X-Token": "abc"},
            "body": {"host": "web-1"},
        },
    )

    assert result.status == "succeeded", result.output
    assert "HTTP 200 OK" in result.output
    assert "answer to POST /hooks/restart" in result.output
    assert len(result.output) < 3000  # only the head of the response is printed
    [req] = received
    assert (req["method"], req["path"]) == ("POST", "/hooks/restart")
    assert req["headers"]["X-Token"] == "abc"
    assert req["headers"]["Content-Type"] == "application/json"
    assert json.loads(req["body"]) == {"host": "web-1"}


def test_http_call_fails_on_an_http_error_status(http_server):
    base, _ = http_server

    result = run_builtin("http_call", {"url": f"{base}/status/503", "allow_hosts": ["127.0.0.1"]})

    assert (result.status, result.exit_code) == ("failed", 1)
    assert "HTTP 503" in result.output


def test_http_call_fails_with_exit_3_when_it_cannot_connect():
    result = run_builtin("http_call", {"url": "http://127.0.0.1:9/", "timeout_s": 2, "allow_hosts": ["127.0.0.1"]})

    assert (result.status, result.exit_code) == ("failed", 3)
    assert "request failed" in result.output


def test_http_call_refuses_a_header_value_with_a_newline(http_server):
    base, received = http_server
    params = {"url": base, "allow_hosts": ["127.0.0.1"], "headers": {"X-A": "1\r\nX-Injected: yes"}}

    result = run(request(builtin_path("http_call"), params=params))

    assert (result.status, result.exit_code) == ("failed", 2)
    assert received == []


def test_http_call_schema_refuses_a_non_http_url():
    with pytest.raises(ParamsError) as caught:
        validate_params(load_builtin("http_call").params_schema, {"url": "file:///etc/passwd", "allow_hosts": ["x"]})

    assert "$.url" in caught.value.errors


# --- clean_old_files --------------------------------------------------------------------


def make_file(path: Path, *, age_s: float, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """A directory to clean, and outside it old files that links point to."""
    outside = tmp_path / "outside"
    files = {
        "old_log": make_file(tmp_path / "logs" / "old.log", age_s=10 * 86400),
        "old_txt": make_file(tmp_path / "logs" / "old.txt", age_s=10 * 86400),
        "new_log": make_file(tmp_path / "logs" / "new.log", age_s=60),
        "nested_old": make_file(tmp_path / "logs" / "sub" / "deep.log", age_s=10 * 86400),
        "outside_old": make_file(outside / "precious.log", age_s=10 * 86400),
        "outside_dir_old": make_file(outside / "dir" / "also.log", age_s=10 * 86400),
    }
    link = tmp_path / "logs" / "link.log"
    link.symlink_to(files["outside_old"])
    (tmp_path / "logs" / "linkdir").symlink_to(outside / "dir")
    files.update(link=link, logs=tmp_path / "logs")
    return files


def test_clean_old_files_removes_only_old_regular_files_and_never_follows_links(tree):
    result = run_builtin("clean_old_files", {"directory": str(tree["logs"]), "older_than": "7d", "recursive": True})

    assert result.status == "succeeded", result.output
    assert not tree["old_log"].exists() and not tree["old_txt"].exists()
    assert not tree["nested_old"].exists()
    assert tree["new_log"].exists()
    assert tree["link"].is_symlink()
    assert tree["outside_old"].exists() and tree["outside_dir_old"].exists()
    assert f"removed {tree['old_log']} (10 bytes)" in result.output
    assert "removed 3 file(s), 30 bytes, older than 604800s" in result.output


def test_clean_old_files_filters_by_pattern_and_stays_at_the_top_unless_recursive(tree):
    result = run_builtin("clean_old_files", {"directory": str(tree["logs"]), "older_than": 86400, "pattern": "*.log"})

    assert result.status == "succeeded"
    assert not tree["old_log"].exists()
    assert tree["old_txt"].exists() and tree["nested_old"].exists()


def test_clean_old_files_dry_run_lists_and_removes_nothing(tree):
    result = run_builtin(
        "clean_old_files", {"directory": str(tree["logs"]), "older_than": "1d", "recursive": True, "dry_run": True}
    )

    assert result.status == "succeeded"
    assert f"would remove {tree['old_log']}" in result.output
    assert "would remove 3 file(s)" in result.output
    assert tree["old_log"].exists() and tree["nested_old"].exists()


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"directory": "relative/dir", "older_than": 10}, "absolute path"),
        ({"directory": "/", "older_than": 10}, "must not be /"),
        ({"directory": "/tmp", "older_than": 0}, "more than 0 seconds"),
        ({"directory": "/tmp", "older_than": "soon"}, "duration like '7d'"),
        ({"directory": "/tmp", "older_than": 10, "pattern": "../*"}, "without '/'"),
        ({"directory": "/no/such/dir", "older_than": 10}, "cannot open /no/such/dir"),
    ],
)
def test_clean_old_files_refuses_bad_params_with_exit_2(params, reason):
    # Straight to the script, past the schema: the script defends itself too.
    result = run(request(builtin_path("clean_old_files"), params=params))

    assert (result.status, result.exit_code) == ("failed", 2)
    assert reason in result.output


# --- restart_systemd_unit ---------------------------------------------------------------


def test_restart_dry_run_prints_the_command_without_running_it():
    result = run_builtin("restart_systemd_unit", {"unit": "nginx.service", "dry_run": True})

    assert result.status == "succeeded"
    assert result.output == "dry run: would run: systemctl restart -- nginx.service\n"


@pytest.fixture
def fake_systemctl(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A systemctl first on PATH that records its argv; returns (env, record file)."""
    bindir, record = tmp_path / "bin", tmp_path / "argv.json"
    bindir.mkdir()
    fake = bindir / "systemctl"
    fake.write_text(f"#!{PYTHON}\nimport json, sys\nopen({str(record)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    fake.chmod(0o755)
    return {"PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin"}, record


def test_restart_runs_systemctl_with_an_argv_and_no_shell(fake_systemctl):
    env, record = fake_systemctl

    result = run_builtin("restart_systemd_unit", {"unit": "app@2.service"}, env=env)

    assert result.status == "succeeded", result.output
    assert json.loads(record.read_text()) == ["restart", "--", "app@2.service"]


@pytest.mark.parametrize(
    "unit", ["nginx; reboot", "-H evil.example.com", "$(reboot)", "a b", "../../etc/passwd", "", "x" * 256]
)
def test_restart_refuses_a_hostile_unit_name_in_schema_and_script(unit, fake_systemctl):
    env, record = fake_systemctl
    with pytest.raises(ParamsError):
        validate_params(load_builtin("restart_systemd_unit").params_schema, {"unit": unit})

    result = run(request(builtin_path("restart_systemd_unit"), params={"unit": unit}, env=env))

    assert (result.status, result.exit_code) == ("failed", 2)
    assert "invalid unit name" in result.output
    assert not record.exists()


def test_restart_exits_3_with_the_command_when_systemctl_is_missing(tmp_path):
    bindir = tmp_path / "bin"  # only python3 on PATH, so /usr/bin/env finds the interpreter
    bindir.mkdir()
    (bindir / "python3").symlink_to(PYTHON)

    result = run_builtin("restart_systemd_unit", {"unit": "nginx"}, env={"PATH": str(bindir)})

    assert (result.status, result.exit_code) == ("failed", 3)
    assert "systemctl not found on PATH; would run: systemctl restart -- nginx" in result.output
