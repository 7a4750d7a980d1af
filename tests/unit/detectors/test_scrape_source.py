"""The scrape source: query language, rolling window, rate, errors (loopback server)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from config.schema import ScrapeSource
from detectors.errors import SourceError
from detectors.sources import ScrapeClient
from detectors.sources.scrape import parse_query, rate

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def exposition(requests_total: float, temp: float) -> bytes:
    return (
        f'# TYPE http_requests counter\nhttp_requests_total{{code="200"}} {requests_total}\n'
        f'http_requests_total{{code="500"}} 3\n# TYPE temp gauge\ntemp {temp}\n'
    ).encode()


def client(url: str, **kw) -> ScrapeClient:
    return ScrapeClient(ScrapeSource.model_validate({"type": "scrape", "name": "app", "url": url, **kw}))


def test_it_parses_names_matchers_and_rate():
    q = parse_query('rate(http_requests_total{code="200", path!="/x", le=~"0\\\\.5|1"})', source="s")
    assert q.name == "http_requests_total" and q.rate
    assert q.matchers == (("code", "=", "200"), ("path", "!=", "/x"), ("le", "=~", "0\\.5|1"))
    assert q.matches({"code": "200", "le": "1"}) and not q.matches({"code": "200", "path": "/x", "le": "1"})
    assert parse_query("up", source="s").matchers == ()


@pytest.mark.parametrize("query", ["sum(up)", "up{code=200}", "rate(up", "up[5m]", ""])
def test_it_rejects_what_it_does_not_understand(query):
    with pytest.raises(SourceError, match="cannot parse query") as info:
        parse_query(query, source="s")
    assert info.value.permanent


def test_it_keeps_a_window_of_scrapes_stamped_with_end(serve):
    values = iter([(10, 20.0), (40, 21.0), (5, 22.0)])  # the counter resets on the third scrape
    server = serve(lambda m, p, b: (200, exposition(*next(values))))
    src = client(server.url)
    got = []
    for i in range(3):
        end = T0 + timedelta(seconds=10 * i)
        got = src.fetch('http_requests_total{code="200"}', start=T0, end=end, step_s=10)
    [s] = got
    assert s.labels == {"__name__": "http_requests_total", "code": "200"}
    assert s.values.tolist() == [10.0, 40.0, 5.0]
    assert [t.timestamp() - T0.timestamp() for t in s.values.index] == [0, 10, 20]


def test_rate_is_per_second_and_handles_resets():
    t, v = rate(np.array([0.0, 10.0, 20.0, 30.0]), np.array([10.0, 40.0, 5.0, np.nan]))
    assert t.tolist() == [10.0, 20.0] and v.tolist() == [3.0, 0.5]


def test_a_vanished_series_gets_nan_then_is_forgotten(serve):
    bodies = iter([b"a 1\nb 2\n", b"a 1\n", b"a 1\n"])
    server = serve(lambda m, p, b: (200, next(bodies)))
    src = client(server.url, keep_points=10)
    for i in range(2):
        src.fetch("b", start=T0, end=T0 + timedelta(seconds=i), step_s=1)
    [b] = src.fetch("b", start=T0, end=T0 + timedelta(seconds=1), step_s=1)
    assert b.values.tolist()[0] == 2.0 and np.isnan(b.values.tolist()[1])


def test_more_matching_series_than_max_series_is_refused(serve):
    server = serve(lambda m, p, b: (200, exposition(1, 1)))
    with pytest.raises(SourceError, match="matches 2 series, more than max_series 1"):
        client(server.url, max_series=1).fetch("http_requests_total", start=T0, end=T0, step_s=1)


def test_http_errors_and_bad_text_are_source_errors(serve):
    server = serve(lambda m, p, b: (500, b"boom"))
    with pytest.raises(SourceError, match="returned HTTP 500"):
        client(server.url).fetch("temp", start=T0, end=T0, step_s=1)
    bad = serve(lambda m, p, b: (200, b"temp{ 1\n"))
    with pytest.raises(SourceError, match="cannot parse the exposition"):
        client(bad.url).fetch("temp", start=T0, end=T0, step_s=1)
