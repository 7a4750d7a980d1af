"""InlineBackend runs requests on a bounded pool and reports through callbacks."""

from __future__ import annotations

import threading
import time

import pytest
from remediation_helpers import request

from remediations.backends import Backend, InlineBackend
from remediations.errors import RunnerError
from remediations.runner import RunResult


def test_it_runs_a_request_and_calls_on_start_then_on_done(script):
    backend = InlineBackend(max_workers=2)
    events: list[tuple[str, object]] = []
    path = script("#!/bin/sh\necho ran\n")

    future = backend.submit(
        request(path),
        on_start=lambda pid: events.append(("start", pid)),
        on_done=lambda result: events.append(("done", result.status)),
    )
    result = future.result(timeout=10)
    backend.shutdown()

    assert result.status == "succeeded" and result.output == "ran\n"
    assert events == [("start", result.pid), ("done", "succeeded")]


def test_it_runs_at_most_max_workers_scripts_at_once(script):
    backend = InlineBackend(max_workers=2)
    path = script("#!/bin/sh\nsleep 0.4\n")

    started = time.monotonic()
    futures = [backend.submit(request(path)) for _ in range(4)]
    statuses = [f.result(timeout=10).status for f in futures]
    backend.shutdown()

    assert statuses == ["succeeded"] * 4
    assert time.monotonic() - started >= 0.8  # two rounds of two


def test_it_refuses_work_beyond_max_pending(script):
    backend = InlineBackend(max_workers=1, max_pending=2)
    path = script("#!/bin/sh\nsleep 0.3\n")

    first, second = backend.submit(request(path)), backend.submit(request(path))
    with pytest.raises(RunnerError, match=r"full \(2 runs pending, max 2\); execution 1"):
        backend.submit(request(path))
    first.result(timeout=10)
    second.result(timeout=10)
    backend.submit(request(path)).result(timeout=10)
    backend.shutdown()


def test_it_refuses_work_after_shutdown(script):
    backend = InlineBackend(max_workers=1)
    backend.shutdown()

    with pytest.raises(RunnerError, match="shut down"):
        backend.submit(request(script("#!/bin/sh\n")))


def test_a_failing_on_start_becomes_an_error_result_passed_to_on_done(script):
    backend = InlineBackend(max_workers=1)
    done = threading.Event()
    results: list[RunResult] = []

    def broken(pid: int) -> None:
        raise RuntimeError("db down")

    def record(result: RunResult) -> None:
        results.append(result)
        done.set()

    backend.submit(request(script("#!/bin/sh\nsleep 100\n")), on_start=broken, on_done=record)
    assert done.wait(10)
    backend.shutdown()

    assert results[0].status == "error"
    assert "db down" in results[0].output


def test_inline_backend_satisfies_the_backend_protocol():
    backend: Backend = InlineBackend(max_workers=1)
    backend.shutdown(wait=True)
