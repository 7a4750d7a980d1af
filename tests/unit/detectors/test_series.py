"""LabelledSeries normalisation and evidence downsampling."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

from detectors.series import LabelledSeries, arrays, downsample, downsample_indices


def test_from_arrays_sorts_and_drops_duplicate_timestamps_keeping_the_last():
    s = LabelledSeries.from_arrays({"a": "1"}, [30, 10, 20, 20], [3.0, 1.0, 2.0, 2.5])
    assert s.values.tolist() == [1.0, 2.5, 3.0]
    assert str(s.values.index.tz) == "UTC" and s.values.index.is_monotonic_increasing
    assert s.values.index[0] == pd.Timestamp(10, unit="s", tz="UTC")


def test_from_series_takes_naive_times_as_utc_and_coerces_numbers():
    raw = pd.Series(["1.5", "x"], index=pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01"]))
    s = LabelledSeries.from_series({}, raw)
    assert s.values.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert s.values.iloc[0] == 1.5 and np.isnan(s.values.iloc[1])


def test_downsampling_keeps_at_most_500_points_and_every_spike():
    v = np.random.default_rng(0).normal(0, 1, 10_000)
    v[1234], v[8765] = 50.0, -50.0
    keep = downsample_indices(v, 500)
    assert len(keep) <= 500 and 1234 in keep and 8765 in keep
    assert np.all(np.diff(keep) > 0)


def test_downsampling_is_json_safe_and_shows_gaps(make_series):
    v = np.arange(2000, dtype=float)
    v[100:300] = np.nan
    v[5] = np.inf
    out = downsample(make_series(v))
    assert len(out["t"]) == len(out["v"]) <= 500
    assert None in out["v"] and all(x is None or np.isfinite(x) for x in out["v"])
    assert out["t"] == sorted(out["t"]) and isinstance(out["t"][0], float)


def test_short_series_are_kept_whole(make_series):
    out = downsample(make_series([1.0, 2.0, 3.0]))
    assert out["v"] == [1.0, 2.0, 3.0]


def test_a_point_stamped_now_is_never_cut_off_as_future():
    # A scheduler that takes over evaluates a one-sample host window stamped exactly `now`;
    # a rounding error here turned "firing" into "no data" and resolved the alert.
    start = datetime(2026, 11, 23, 11, 54, 44, tzinfo=timezone.utc)
    nows = [start + timedelta(microseconds=7919 * i) for i in range(5000)]
    stamps = np.array([n.timestamp() for n in nows])
    s = LabelledSeries.from_arrays({}, stamps, np.ones(stamps.size))
    assert (s.t_s == stamps).all()
    for now in nows[::97]:
        t, _ = arrays(s.values, now)
        assert t[-1] == now.timestamp()
