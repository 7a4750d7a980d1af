"""A Prometheus text-exposition endpoint (/metrics) read directly, without Prometheus.

Each fetch scrapes once and stamps what it read with the fetch's `end` time; a bounded
window per series (RollingWindow) supplies the history. Query language (documented
here, deliberately tiny):

    metric_name                          every sample named exactly so
    metric_name{label="x",other!="y"}    with matchers =, !=, =~ and !~ (full-match regex)
    rate(metric_name{...})               per-second rate between successive scrapes,
                                         counter resets handled as Prometheus does

Sample names are matched as exposed (`http_requests_total`, `latency_seconds_bucket`).
A series missing from a scrape gets a NaN point (like a Prometheus staleness marker);
one whose whole window is NaN is forgotten.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import requests
from prometheus_client.parser import text_string_to_metric_families

from config import regex
from config.schema import ScrapeSource
from detectors.errors import SourceError
from detectors.series import LabelledSeries
from detectors.sources.base import RollingWindow

_QUERY = re.compile(r"^\s*(?:(rate)\s*\(\s*)?([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*(?(1)\))\s*$", re.S)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Selector:
    """A parsed scrape query: sample name, label matchers, and whether to take a rate."""

    name: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)
    rate: bool

    def matches(self, labels: dict[str, str]) -> bool:
        """True when every matcher accepts `labels` (a missing label is "")."""
        for label, op, value in self.matchers:
            have = labels.get(label, "")
            ok = {"=": have == value, "!=": have != value}.get(op)
            if ok is None:
                ok = regex.fullmatch(value, have)  # RE2, as Prometheus: linear in the label's length
                ok = ok if op == "=~" else not ok
            if not ok:
                return False
        return True


def parse_query(query: str, *, source: str) -> Selector:
    """Parse `name`, `name{l="v",...}` or `rate(name{...})`.

    Raises:
        SourceError: (permanent) the query is not in that language.
    """
    match = _QUERY.match(query)
    bad = SourceError(f'scrape source "{source}": cannot parse query {query!r}; expected metric_name, '
                      'metric_name{label="value"} or rate(metric_name{...})', source=source, permanent=True)
    if not match:
        raise bad
    matchers, body, pos = [], match.group(3) or "", 0
    while pos < len(body.strip()):
        m = _MATCHER.match(body, pos)
        if not m:
            raise bad
        value = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n" else e.group(1), m.group(3))
        if m.group(2) in ("=~", "!~"):
            try:
                regex.compile_label_regex(value)
            except regex.RegexError as exc:
                raise SourceError(f'scrape source "{source}": label {m.group(1)}: {exc}', source=source,
                                  permanent=True) from None
        matchers.append((m.group(1), m.group(2), value))
        pos = m.end()
    return Selector(match.group(2), tuple(matchers), bool(match.group(1)))


def rate(t: npt.NDArray[np.float64], v: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per-second increase between successive valid points; a drop is a counter reset.

    Returns:
        (times of the later point of each pair, rates); one point fewer than the valid input.
    """
    keep = ~np.isnan(v)
    t, v = t[keep], v[keep]
    if t.size < 2:
        return np.empty(0), np.empty(0)
    dv = np.diff(v)
    dv = np.where(dv < 0, v[1:], dv)  # after a reset the counter restarted from 0
    return t[1:], dv / np.diff(t)


class ScrapeClient:
    """Scrape one /metrics URL and keep a rolling window per series.

    Args:
        cfg: the source configuration.
        session: a requests session (tests); one is made if None.
    """

    def __init__(self, cfg: ScrapeSource, *, session: requests.Session | None = None) -> None:
        self.name = cfg.name
        self._cfg = cfg
        self._url = str(cfg.url)
        self._session = session or requests.Session()
        self._tracked: set[str] = set()
        self._windows: dict[Key, RollingWindow] = {}

    def fetch(self, query: str, *, start: datetime, end: datetime, step_s: float) -> list[LabelledSeries]:
        """Scrape now (stamped `end`) and return the selected series' points in [start, end].

        Args:
            query: see the module docstring.
            start, end: the window; `end` stamps this scrape.
            step_s: unused (the scrape cadence is the fetch cadence).

        Raises:
            SourceError: bad query (permanent), HTTP/connection failure, unparsable
                exposition, or more matching series than max_series.
        """
        selector = parse_query(query, source=self.name)
        self._tracked.add(selector.name)
        self._record(self._scrape(), end.timestamp())
        keys = [k for k in self._windows if k[0] == selector.name and selector.matches(dict(k[1]))]
        if len(keys) > self._cfg.max_series:
            raise SourceError(f'scrape source "{self.name}": {query!r} matches {len(keys)} series, more than '
                              f"max_series {self._cfg.max_series}", source=self.name, permanent=True)
        return [self._series(key, selector.rate, start.timestamp(), end.timestamp()) for key in keys]

    def _series(self, key: Key, as_rate: bool, start_s: float, end_s: float) -> LabelledSeries:
        t, v = self._windows[key].between(start_s, end_s)
        labels = dict(key[1])
        if as_rate:
            t, v = rate(t, v)
        else:
            labels["__name__"] = key[0]
        return LabelledSeries.from_arrays(labels, t, v)

    def _scrape(self) -> dict[Key, float]:
        where = f'scrape source "{self.name}": GET {self._url}'
        try:
            response = self._session.get(self._url, timeout=self._cfg.timeout_s,
                                         headers={"Accept": "text/plain;version=0.0.4"})
        except requests.Timeout as exc:
            raise SourceError(f"{where} timed out after {self._cfg.timeout_s:g}s", source=self.name) from exc
        except requests.RequestException as exc:
            raise SourceError(f"{where} failed ({type(exc).__name__})", source=self.name) from exc
        if response.status_code != 200:
            raise SourceError(f"{where} returned HTTP {response.status_code}", source=self.name,
                              permanent=response.status_code in (401, 403, 404))
        try:
            return {(s.name, tuple(sorted(s.labels.items()))): float(s.value)
                    for family in text_string_to_metric_families(response.text)
                    for s in family.samples if s.name in self._tracked}
        except (ValueError, TypeError, IndexError) as exc:
            raise SourceError(f"{where}: cannot parse the exposition text ({exc})", source=self.name) from exc

    def _record(self, samples: dict[Key, float], t_s: float) -> None:
        for key, value in samples.items():
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = RollingWindow(self._cfg.keep_points)
            window.append(t_s, value)
        for key in [k for k in self._windows if k not in samples]:
            self._windows[key].append(t_s, float("nan"))
            if self._windows[key].all_nan():
                del self._windows[key]
