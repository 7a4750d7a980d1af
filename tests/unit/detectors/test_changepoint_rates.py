"""Measured error rates of the automatic penalty (what PENALTY_FACTOR was tuned on)."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.analysis import change_points, changepoint

SEEDS = range(300)


@pytest.mark.parametrize(
    "method,n", [("kernelcpd", 60), ("kernelcpd", 240), ("binseg", 240), ("binseg", 2000), ("auto", 500)]
)
def test_stationary_noise_almost_never_has_a_change_point(method, n):
    false_alarms = sum(bool(change_points(np.random.default_rng(s).normal(0, 1, n), method=method)) for s in SEEDS)
    assert false_alarms / len(SEEDS) <= 0.01, f"{false_alarms} false alarms in {len(SEEDS)} seeds"


@pytest.mark.parametrize("method", ["kernelcpd", "binseg"])
def test_three_sigma_shifts_are_found_within_a_few_points(method):
    hits = 0
    for seed in range(200):
        v = np.random.default_rng(seed).normal(0, 1, 240)
        v[220:] += 3.0
        found = change_points(v, method=method)
        hits += any(abs(i - 220) <= 3 for i in found)
    assert hits / 200 >= 0.95


def test_the_finding_false_alarm_rate_on_noise_is_small(make_series):
    firing = sum(
        changepoint(make_series(np.random.default_rng(s).normal(50, 5, 240))).state == "firing" for s in range(200)
    )
    assert firing <= 2
