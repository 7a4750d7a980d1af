"""The Prometheus client against a canned HTTP server on loopback."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import numpy as np
import pytest

from config.schema import PrometheusSource
from detectors.errors import SourceError
from detectors.sources import PrometheusClient, build_source
from detectors.sources.prometheus import chunk_range
from detectors.sources.promjson import decode

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def matrix(series: list[tuple[dict, list]]) -> bytes:
    result = [{"metric": m, "values": v} for m, v in series]
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()


def config(url: str, **kw) -> PrometheusSource:
    return PrometheusSource.model_validate({"type": "prometheus", "name": "prom", "url": url, **kw})


def answer_range(method: str, path: str, body: bytes) -> tuple[int, bytes]:
    """Echo a grid of points for whatever range was asked, one series."""
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
    points = [[t, str(t % 7)] for t in np.arange(start, end + step / 2, step).tolist()]
    return 200, matrix([({"__name__": "up", "job": "x"}, points)])


def test_it_returns_one_series_per_label_set_with_nan_and_inf(serve):
    payload = matrix(
        [
            ({"job": "a"}, [[1704067200, "1.5"], [1704067215, "NaN"], [1704067230, "+Inf"]]),
            ({"job": "b"}, [[1704067200, "-Inf"]]),
        ]
    )
    server = serve(lambda m, p, b: (200, payload))
    got = build_source(config(server.url)).fetch("up", start=START, end=START + timedelta(minutes=1), step_s=15)
    assert [s.labels for s in got] == [{"job": "a"}, {"job": "b"}]
    a = got[0].values
    assert a.iloc[0] == 1.5 and np.isnan(a.iloc[1]) and a.iloc[2] == np.inf and got[1].values.iloc[0] == -np.inf
    assert str(a.index.tz) == "UTC"
    method, path, body, _ = server.requests[0]
    assert (method, path) == ("POST", "/api/v1/query_range")
    assert parse_qs(body.decode())["query"] == ["up"]


def test_long_ranges_are_split_under_11000_points_and_joined(serve):
    server = serve(answer_range)
    end = START + timedelta(seconds=25_000)
    [series] = PrometheusClient(config(server.url)).fetch("up", start=START, end=end, step_s=1)
    assert len(server.requests) == 3
    assert series.points == 25_001 and series.values.index.is_unique
    for _, _, body, _ in server.requests:
        form = parse_qs(body.decode())
        assert (float(form["end"][0]) - float(form["start"][0])) / 1 + 1 <= 11_000


def test_chunks_stay_on_the_step_grid():
    chunks = chunk_range(0.0, 100.0, 3.0, max_points=10)
    assert chunks[0] == (0.0, 27.0) and chunks[1][0] == 30.0 and chunks[-1][1] == 100.0


def test_a_prometheus_error_becomes_a_clear_permanent_source_error(serve):
    error = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error at char 7"}).encode()
    server = serve(lambda m, p, b: (400, error))
    with pytest.raises(SourceError) as info:
        PrometheusClient(config(server.url)).fetch("up{", start=START, end=START, step_s=15)
    assert (
        str(info.value) == 'prometheus source "prom": query_range returned HTTP 400 (bad_data: parse error at char 7)'
    )
    assert info.value.permanent and info.value.source == "prom"


def test_502_and_503_are_retried_then_reported_as_transient(serve):
    server = serve(lambda m, p, b: (503, b"overloaded"))
    with pytest.raises(SourceError, match=r"HTTP 503 \(Service Unavailable: overloaded\)") as info:
        PrometheusClient(config(server.url)).fetch("up", start=START, end=START, step_s=15)
    assert len(server.requests) == 3 and not info.value.permanent


def test_a_refused_connection_is_a_source_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(SourceError, match=rf"cannot connect to http://127.0.0.1:{port} \(connection refused\)"):
        PrometheusClient(config(f"http://127.0.0.1:{port}")).fetch("up", start=START, end=START, step_s=15)


def test_a_slow_server_times_out(serve):
    import time

    def slow(m: str, p: str, b: bytes) -> tuple[int, bytes]:
        time.sleep(1.0)
        return 200, matrix([])

    server = serve(slow)
    with pytest.raises(SourceError, match="timed out after 0.2s"):
        PrometheusClient(config(server.url, timeout_s=0.2)).fetch("up", start=START, end=START, step_s=15)


def test_more_series_than_max_series_is_refused_naming_both(serve):
    payload = matrix([({"i": str(i)}, [[1704067200, "1"]]) for i in range(5)])
    server = serve(lambda m, p, b: (200, payload))
    with pytest.raises(SourceError, match="returned 5 series, more than max_series 3"):
        PrometheusClient(config(server.url, max_series=3)).fetch("up", start=START, end=START, step_s=15)


@pytest.mark.parametrize(
    "auth,expected",
    [({"bearer_token": "s3cret"}, "Bearer s3cret"), ({"basic_auth": {"username": "u", "password": "p"}}, "Basic dTpw")],
)
def test_it_sends_credentials(serve, auth, expected):
    server = serve(lambda m, p, b: (200, matrix([])))
    PrometheusClient(config(server.url, **auth)).fetch("up", start=START, end=START, step_s=15)
    assert server.requests[0][3]["Authorization"] == expected


def test_the_instant_query_helper_uses_api_v1_query(serve):
    payload = json.dumps(
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {"job": "a"}, "value": [1704067200, "42"]}]},
        }
    ).encode()
    server = serve(lambda m, p, b: (200, payload))
    [s] = PrometheusClient(config(server.url)).query("up", at=START)
    assert server.requests[0][1] == "/api/v1/query" and s.values.tolist() == [42.0]


def test_garbage_is_reported_not_crashed_on():
    with pytest.raises(SourceError, match="invalid JSON"):
        decode(b"<html>", source="prom", endpoint="query_range", max_series=10)


@pytest.mark.parametrize("point", [[1704067200, "high"], [1704067200], ["soon", "1"]])
def test_a_malformed_point_is_a_source_error_naming_the_endpoint(point):
    body = matrix([({"job": "a"}, [[1704067185, "1"], point])])
    with pytest.raises(SourceError, match='prometheus source "prom": query_range returned a malformed point'):
        decode(body, source="prom", endpoint="query_range", max_series=10)
