"""Robust rolling z-score."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.analysis import robust_z, zscore, zscore_matrix


def noise(n: int, seed: int = 0, level: float = 100.0, sd: float = 2.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(level, sd, n)


def test_it_fires_on_a_spike_at_the_latest_point(make_series):
    v = noise(120)
    v[-1] = 130  # 15 sigma
    f = zscore(make_series(v), threshold=4, name="latency")
    assert f.state == "firing" and f.value == 130
    assert "σ above its rolling median" in f.message
    assert f.before == pytest.approx(100, abs=1.5)
    assert f.active_since is not None


def test_it_stays_quiet_on_plain_noise(make_series):
    firing = sum(zscore(make_series(noise(200, seed)), threshold=4).state == "firing" for seed in range(200))
    assert firing <= 4  # |z| >= 4 is rare for Gaussian noise, even with a noisy baseline


@pytest.mark.parametrize("direction,expected", [("up", "ok"), ("down", "firing"), ("both", "firing")])
def test_direction_limits_which_side_fires(make_series, direction, expected):
    v = noise(120)
    v[-1] = 70
    assert zscore(make_series(v), direction=direction).state == expected


def test_not_enough_history_is_ok_with_a_reason_not_an_error(make_series):
    f = zscore(make_series(noise(20)), min_history=30)
    assert f.state == "ok" and "not enough data (20 points, need 31)" in f.message


def test_an_empty_series_is_ok(make_series):
    assert "no data" in zscore(make_series([])).message


def test_a_flat_series_that_moves_gives_a_finite_large_z(make_series):
    v = np.full(100, 5.0)
    v[-1] = 6.0
    z = robust_z(v, window_points=60, min_history=30)
    assert np.isfinite(z[-1]) and z[-1] > 100
    assert zscore(make_series(v)).state == "firing"


def test_quantised_data_falls_back_to_mean_absolute_deviation():
    v = np.zeros(100)
    v[::10] = 1.0  # MAD is 0, mean absolute deviation is not
    v[-1] = 1.0
    z = robust_z(v)
    assert 1 < z[-1] < 20


def test_nan_points_are_skipped(make_series):
    v = noise(120)
    v[50:60] = np.nan
    v[-1] = 140
    assert zscore(make_series(v)).state == "firing"


def test_the_matrix_form_matches_the_series_form(make_series):
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, size=(50, 300))
    values[::5, -1] += 8
    codes = zscore_matrix(values, threshold=4, window_points=60, min_history=30)
    expected = [2 if zscore(make_series(row)).state == "firing" else 0 for row in values]
    assert codes.tolist() == expected
    assert codes[::5].tolist() == [2] * 10


def test_the_matrix_form_needs_history():
    assert zscore_matrix(np.ones((3, 10)) * np.arange(10), min_history=30).tolist() == [0, 0, 0]
