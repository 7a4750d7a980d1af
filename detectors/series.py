"""The value passed from sources to analyses: a float series with its labels.

Every series in Vigil has sorted, duplicate-free UTC timestamps; the constructors here
are the only place that guarantees it. A series is held as two numpy arrays (unix
seconds, values): analyses and the replay work on those, because building a pandas
Series costs ~50 us, more than evaluating a 240-point window. The pandas view
(`values`) is built on first use, for callers that want one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MAX_EVIDENCE_POINTS = 500
_NS = 1_000_000_000


@dataclass(frozen=True, eq=False, slots=True)
class LabelledSeries:
    """One time series and the labels that identify it.

    Build one with `from_arrays` or `from_series`; the plain constructor trusts its
    arrays (sources that already hold normalised stamps use it to share one time axis
    between the series of an answer, which lets the pipeline stack them cheaply).

    Attributes:
        labels: identifying labels (for Prometheus, the `metric` object).
        t_s: unix seconds, float64, strictly increasing, as `seconds_from_ns` gives them
            (whole microseconds from from_arrays and the sources); read-only, it may be shared.
        v: float64 values, same length; NaN is a missing value. Read-only too.
    """

    labels: dict[str, str]
    t_s: FloatArray
    v: FloatArray
    _pandas: list[pd.Series] = field(default_factory=list, init=False, repr=False)  # 0 or 1 item: the lazy view

    @classmethod
    def from_arrays(cls, labels: dict[str, str], t_s: npt.ArrayLike, values: npt.ArrayLike) -> "LabelledSeries":
        """Build a series from unix seconds and values, sorting and de-duplicating.

        Args:
            labels: the series labels (copied).
            t_s: unix timestamps in seconds (float or int).
            values: values, same length as `t_s`.

        Returns:
            The normalised series; for a duplicated timestamp the last value wins.

        Raises:
            ValueError: the two arrays differ in length.
        """
        t_ns = ns_from_seconds(np.asarray(t_s, dtype=np.float64))
        v = np.asarray(values, dtype=np.float64)
        if t_ns.shape != v.shape:
            raise ValueError(f"{t_ns.size} timestamps but {v.size} values")
        t_ns, v = _sorted_unique(t_ns, v)
        return cls(dict(labels), seconds_from_ns(t_ns), v)

    @classmethod
    def from_series(cls, labels: dict[str, str], values: pd.Series) -> "LabelledSeries":
        """Normalise any datetime-indexed series (naive times are taken as UTC).

        Args:
            labels: the series labels (copied).
            values: a Series whose index converts to datetimes.

        Returns:
            The normalised series (its pandas view keeps nanosecond stamps as given).
        """
        index = pd.DatetimeIndex(pd.to_datetime(values.index, utc=True))
        t_ns = np.asarray(index.values).astype("M8[ns]").view(np.int64)
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        t_ns, v = _sorted_unique(t_ns, v)
        series = cls(dict(labels), seconds_from_ns(t_ns), v)
        series._pandas.append(_pandas_series(t_ns, v))
        return series

    @property
    def values(self) -> pd.Series:
        """The series as pandas: float64 on a UTC DatetimeIndex (built once, on first use)."""
        if not self._pandas:
            self._pandas.append(_pandas_series(ns_from_seconds(self.t_s), self.v))
        return self._pandas[0]

    @property
    def points(self) -> int:
        """Number of points, NaN included."""
        return int(self.v.size)

    def until(self, now_s: float) -> tuple[FloatArray, FloatArray]:
        """(t_s, v) of the points at or before `now_s` (views, no copy)."""
        t = self.t_s
        if t.size and t[-1] > now_s:
            stop = int(np.searchsorted(t, now_s, side="right"))
            return t[:stop], self.v[:stop]
        return t, self.v


def ns_from_seconds(t_s: FloatArray) -> IntArray:
    """int64 nanoseconds from unix seconds, rounded to whole microseconds.

    Float seconds near 1.7e9 carry ~0.2 us of noise, which would otherwise turn
    Prometheus' millisecond steps into 999,936 ns gaps.
    """
    return np.round(t_s * 1e6).astype(np.int64) * 1000


def seconds_from_ns(t_ns: IntArray) -> FloatArray:
    """Unix seconds (float64) from int64 nanoseconds: the one conversion every path uses.

    Whole microseconds are divided exactly as `datetime.timestamp()` does, so a point
    stamped `now` compares equal to `now` (ns as float64 would be off by an ulp).
    """
    us, rest_ns = np.divmod(t_ns, 1000)
    return us.astype(np.float64) / 1e6 + rest_ns.astype(np.float64) / _NS


def _sorted_unique(t_ns: IntArray, v: FloatArray) -> tuple[IntArray, FloatArray]:
    # Sources almost always deliver sorted, unique stamps: check cheaply, sort rarely.
    if t_ns.size > 1 and not bool(np.all(t_ns[1:] > t_ns[:-1])):
        order = np.argsort(t_ns, kind="stable")
        t_ns, v = t_ns[order], v[order]
        keep = np.append(t_ns[1:] != t_ns[:-1], True)  # last of each duplicate run
        t_ns, v = t_ns[keep], v[keep]
    return t_ns, v


def _pandas_series(t_ns: IntArray, v: FloatArray) -> pd.Series:
    index = pd.DatetimeIndex(t_ns.view("M8[ns]"), tz="UTC")
    return pd.Series(v, index=index, dtype=np.float64, copy=False)


def empty_series() -> pd.Series:
    """An empty float series with a UTC DatetimeIndex."""
    return _pandas_series(np.empty(0, np.int64), np.empty(0, np.float64))


def unix_seconds(index: pd.Index) -> FloatArray:
    """Unix seconds (float64) of a DatetimeIndex, vectorised."""
    stamps = np.asarray(index.values).astype("M8[ns]", copy=False)  # tz-aware -> UTC datetime64
    return seconds_from_ns(stamps.view(np.int64))


def arrays(series: pd.Series, now: datetime | None = None, *, dropna: bool = False) -> tuple[FloatArray, FloatArray]:
    """(unix seconds, values) of `series` up to `now`, optionally without NaN points.

    The analyses work on these arrays: plain numpy is several times cheaper than the
    equivalent pandas calls on a 240-point window, which matters in a replay.
    """
    t = unix_seconds(series.index)
    v = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if now is not None and t.size and t[-1] > now.timestamp():
        stop = int(np.searchsorted(t, now.timestamp(), side="right"))
        t, v = t[:stop], v[:stop]
    return drop_nan(t, v) if dropna else (t, v)


def drop_nan(t_s: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(t_s, v) without the NaN points; the inputs themselves when there are none."""
    keep = ~np.isnan(v)
    if keep.all():
        return t_s, v
    return t_s[keep], v[keep]


def to_datetime(unix_s: float) -> datetime:
    """A UTC-aware datetime from unix seconds."""
    return datetime.fromtimestamp(float(unix_s), tz=timezone.utc)


def until(series: pd.Series, now: datetime | None) -> pd.Series:
    """The part of `series` at or before `now`, so an analysis never sees the future."""
    if now is None or series.empty:
        return series
    stop = int(series.index.searchsorted(pd.Timestamp(now), side="right"))
    return series if stop == len(series) else series.iloc[:stop]


def downsample_indices(values: FloatArray, max_points: int = MAX_EVIDENCE_POINTS) -> npt.NDArray[np.intp]:
    """Indices of at most `max_points` points that keep each bucket's min and max.

    Spikes survive (unlike averaging or striding); all-NaN buckets keep one point so
    gaps still show on a plot.

    Args:
        values: the values, in time order.
        max_points: the most points to keep (at least 2).

    Returns:
        Sorted unique indices into `values`.
    """
    n = values.size
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    size = -(-n // buckets)  # ceil
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    nan = np.isnan(grid)
    lo = np.where(nan, np.inf, grid).argmin(axis=1)  # all-NaN row -> 0, its first point
    hi = np.where(nan, -np.inf, grid).argmax(axis=1)
    base = np.arange(buckets) * size
    picked = np.concatenate([base + lo, base + hi])
    return np.unique(picked[picked < n])


def downsample(series: pd.Series, max_points: int = MAX_EVIDENCE_POINTS) -> dict[str, list[Any]]:
    """A JSON-safe, plot-ready copy of `series` with at most `max_points` points.

    Args:
        series: a float series on a DatetimeIndex.
        max_points: the most points to keep.

    Returns:
        `{"t": [unix seconds], "v": [float or None]}`; NaN and ±inf become None.
    """
    t, v = arrays(series)
    return downsample_arrays(t, v, max_points)


def downsample_arrays(t_s: FloatArray, v: FloatArray, max_points: int = MAX_EVIDENCE_POINTS) -> dict[str, list[Any]]:
    """`downsample` for (unix seconds, values) arrays."""
    if v.size <= max_points:  # the usual window: keep it whole, skip the index arrays
        times, kept = t_s, v
    else:
        keep = downsample_indices(v, max_points)
        times, kept = t_s[keep], v[keep]
    finite = np.isfinite(kept)
    values: list[Any] = kept.tolist()
    if not finite.all():
        for i in np.flatnonzero(~finite).tolist():
            values[i] = None
    return {"t": times.tolist(), "v": values}
