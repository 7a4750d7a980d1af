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

With a ScrapeHistory (a diagnosis reads this source without queries), every scrape also
goes into a bounded ring of every series the target exposes, whatever the queries select.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
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
# Samples that only grow, by family type; an untyped `_total` is a counter by convention.
_CUMULATIVE = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
    "unknown": ("_total",),
    "untyped": ("_total",),
}


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
    bad = SourceError(
        f'scrape source "{source}": cannot parse query {query!r}; expected metric_name, '
        'metric_name{label="value"} or rate(metric_name{...})',
        source=source,
        permanent=True,
    )
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
                raise SourceError(
                    f'scrape source "{source}": label {m.group(1)}: {exc}', source=source, permanent=True
                ) from None
        matchers.append((m.group(1), m.group(2), value))
        pos = m.end()
    return Selector(match.group(2), tuple(matchers), bool(match.group(1)))


def rate(
    t: npt.NDArray[np.float64], v: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
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

    def __init__(
        self, cfg: ScrapeSource, *, session: requests.Session | None = None, history: ScrapeHistory | None = None
    ) -> None:
        self.name = cfg.name
        self._cfg = cfg
        self._url = str(cfg.url)
        self._session = session or requests.Session()
        self._tracked: set[str] = set()
        self._windows: dict[Key, RollingWindow] = {}
        self.history = history

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
        samples, cumulative = self._scrape()
        if self.history is not None:
            self.history.record(samples, cumulative, end.timestamp())
        self._record({k: v for k, v in samples.items() if k[0] in self._tracked}, end.timestamp())
        keys = [k for k in self._windows if k[0] == selector.name and selector.matches(dict(k[1]))]
        if len(keys) > self._cfg.max_series:
            raise SourceError(
                f'scrape source "{self.name}": {query!r} matches {len(keys)} series, more than '
                f"max_series {self._cfg.max_series}",
                source=self.name,
                permanent=True,
            )
        return [self._series(key, selector.rate, start.timestamp(), end.timestamp()) for key in keys]

    def _series(self, key: Key, as_rate: bool, start_s: float, end_s: float) -> LabelledSeries:
        t, v = self._windows[key].between(start_s, end_s)
        labels = dict(key[1])
        if as_rate:
            t, v = rate(t, v)
        else:
            labels["__name__"] = key[0]
        return LabelledSeries.from_arrays(labels, t, v)

    def _scrape(self) -> tuple[dict[Key, float], set[str]]:
        """(the samples read, the names of those that only grow: counters, histogram and summary
        counts, sums and buckets). Every sample when a history is kept, else the tracked ones."""
        where = f'scrape source "{self.name}": GET {self._url}'
        try:
            response = self._session.get(
                self._url, timeout=self._cfg.timeout_s, headers={"Accept": "text/plain;version=0.0.4"}
            )
        except requests.Timeout as exc:
            raise SourceError(f"{where} timed out after {self._cfg.timeout_s:g}s", source=self.name) from exc
        except requests.RequestException as exc:
            raise SourceError(f"{where} failed ({type(exc).__name__})", source=self.name) from exc
        if response.status_code != 200:
            raise SourceError(
                f"{where} returned HTTP {response.status_code}",
                source=self.name,
                permanent=response.status_code in (401, 403, 404),
            )
        try:
            return self._parse(response.text)
        except (ValueError, TypeError, IndexError) as exc:
            raise SourceError(f"{where}: cannot parse the exposition text ({exc})", source=self.name) from exc

    def _parse(self, text: str) -> tuple[dict[Key, float], set[str]]:
        samples: dict[Key, float] = {}
        cumulative: set[str] = set()
        everything = self.history is not None
        for family in text_string_to_metric_families(text):
            grows = _CUMULATIVE.get(family.type, ())
            for s in family.samples:
                if (everything and not s.name.endswith("_created")) or s.name in self._tracked:
                    samples[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
                    if grows and s.name.endswith(grows):
                        cumulative.add(s.name)
        return samples, cumulative

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


class ScrapeHistory:
    """The last scrapes of one target, every series, for diagnoses without queries.

    A ring of `capacity` scrape columns (`span_s` / `spacing_s`, plus one) by at most
    `max_series` rows, preallocated per row: memory is capacity x rows x 8 bytes (a 35m
    window at 6 s spacing, 1.5x slack, 5,000 series: about 21 MB). A scrape less than
    `spacing_s` after the last kept one is not kept (two detectors reading the target in
    the same moment). Series beyond max_series are not kept (`dropped` counts them in the
    latest scrape); a row absent from every kept scrape is freed.

    Args:
        span_s: how far back the ring must reach (the diagnoses' lookback + after, with slack).
        spacing_s: the least time between two kept scrapes.
        max_series: the most series kept.
    """

    def __init__(self, *, span_s: float, spacing_s: float, max_series: int) -> None:
        self.capacity = int(math.ceil(span_s / spacing_s)) + 1
        self.spacing_s, self.max_series = spacing_s, max_series
        self._t = np.full(self.capacity, np.nan)
        self._v = np.full((min(max_series, 256), self.capacity), np.nan)
        self._grows = np.zeros(self._v.shape[0], dtype=bool)
        self._rows: dict[Key, int] = {}
        self._free: list[int] = []
        self._next = self._count = 0
        self.dropped = 0
        self._lock = threading.Lock()  # written by detector jobs, read by the diagnosis thread

    def record(self, samples: Mapping[Key, float], cumulative: set[str], t_s: float) -> None:
        """Keep one scrape (stamped t_s) of every series in `samples`."""
        with self._lock:
            if self._count and t_s < self._t[(self._next - 1) % self.capacity] + self.spacing_s:
                return
            col = self._next
            self._t[col] = t_s
            self._v[:, col] = np.nan
            rows, values, dropped = [], [], 0
            for key, value in samples.items():
                row = self._rows.get(key)
                if row is None and (row := self._add(key, key[0] in cumulative)) is None:
                    dropped += 1
                    continue
                rows.append(row)
                values.append(value)
            self._v[rows, col] = values
            self.dropped = dropped
            self._next, self._count = (col + 1) % self.capacity, min(self._count + 1, self.capacity)
            if self._next == 0:  # once per lap of the ring
                self._forget_absent()

    def series(self, start_s: float, end_s: float) -> tuple[list[LabelledSeries], int]:
        """(every kept series over [start_s, end_s], how many the latest scrape dropped).

        Counters and histogram/summary counts, sums and buckets come as per-second rates
        (see `rate`), labelled with their sample name; gauges as read.
        """
        with self._lock:
            order = (
                np.r_[self._next : self.capacity, 0 : self._next]
                if self._count == self.capacity
                else np.arange(self._count)
            )
            t = self._t[order]
            cols = order[(t >= start_s) & (t <= end_s)]
            stamps = self._t[cols]
            stamps.flags.writeable = False
            found = []
            for (name, labels), row in self._rows.items():
                v = self._v[row, cols]
                if not np.isfinite(v).any():
                    continue
                if self._grows[row]:
                    found.append(LabelledSeries.from_arrays({**dict(labels), "__name__": name}, *rate(stamps, v)))
                else:
                    v.flags.writeable = False
                    found.append(LabelledSeries({**dict(labels), "__name__": name}, stamps, v))
            return found, self.dropped

    def _add(self, key: Key, grows: bool) -> int | None:
        if self._free:
            row = self._free.pop()
        elif len(self._rows) < self._v.shape[0]:
            row = len(self._rows)
        elif self._v.shape[0] < self.max_series:
            row = self._v.shape[0]
            more = min(self._v.shape[0] * 2, self.max_series) - self._v.shape[0]
            self._v = np.vstack([self._v, np.full((more, self.capacity), np.nan)])
            self._grows = np.concatenate([self._grows, np.zeros(more, dtype=bool)])
        else:
            return None
        self._rows[key], self._grows[row] = row, grows
        return row

    def _forget_absent(self) -> None:
        for key, row in [(k, r) for k, r in self._rows.items() if not np.isfinite(self._v[r]).any()]:
            del self._rows[key]
            self._free.append(row)
