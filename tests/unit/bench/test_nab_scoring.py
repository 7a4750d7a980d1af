"""NAB scoring and window matching on synthetic windows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.nab_scoring import REWARD_LOW_FN, STANDARD, NabScore, match_windows, nab_score, scaled_sigmoid

T = np.arange(1000, dtype=np.float64) * 60.0  # 1,000 rows a minute apart; probation = 150 rows
WINDOWS = [(300 * 60.0, 399 * 60.0), (700 * 60.0, 799 * 60.0)]  # 100 rows each


def test_the_scaled_sigmoid_matches_nabs_published_values() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.0) == -1.0


def test_a_perfect_detector_scores_100_and_the_null_one_0() -> None:
    assert nab_score(T, WINDOWS, [w[0] for w in WINDOWS]).normalised == pytest.approx(100.0)
    assert nab_score(T, WINDOWS, []).normalised == pytest.approx(0.0)
    assert nab_score(T, WINDOWS, []).raw == -2.0


def test_one_far_false_positive_costs_a_fp() -> None:
    score = nab_score(T, WINDOWS, [w[0] for w in WINDOWS] + [200 * 60.0])  # before any window
    assert score.raw == pytest.approx(2.0 - 0.11)
    assert score.normalised == pytest.approx(100.0 * (2.0 - 0.11 + 2.0) / 4.0)


def test_a_false_positive_just_after_a_window_costs_little() -> None:
    near = nab_score(T, WINDOWS, [400 * 60.0]).raw + 2.0  # one row past the first window
    y = 1 / 99
    assert near == pytest.approx(0.11 * scaled_sigmoid(y))
    assert -0.11 < near < 0
    far = nab_score(T, WINDOWS, [650 * 60.0]).raw + 2.0  # 2.5 widths past it
    assert far == pytest.approx(0.11 * scaled_sigmoid(250 / 99))


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    middle = nab_score(T, WINDOWS[:1], [350 * 60.0])
    both = nab_score(T, WINDOWS[:1], [350 * 60.0, 390 * 60.0])
    y = -(399 - 350 + 1) / 100
    assert middle.raw == pytest.approx(scaled_sigmoid(y) / scaled_sigmoid(-1.0))
    assert both.raw == middle.raw


def test_a_detection_at_the_windows_end_is_worth_almost_nothing() -> None:
    assert 0 < nab_score(T, WINDOWS[:1], [399 * 60.0]).raw < 0.06


def test_detections_in_the_probationary_period_are_ignored() -> None:
    assert nab_score(T, WINDOWS, [10 * 60.0]).raw == -2.0


def test_a_detection_between_rows_maps_to_the_row_before_it() -> None:
    assert nab_score(T, WINDOWS[:1], [300 * 60.0 + 30]).normalised == pytest.approx(100.0)
    assert nab_score(T, WINDOWS[:1], [300 * 60.0 - 30]).raw < 0  # row 299: outside


def test_scores_add_up_over_a_corpus_before_normalising() -> None:
    a = nab_score(T, WINDOWS, [w[0] for w in WINDOWS])
    b = nab_score(T, WINDOWS, [])
    total = a + b
    assert isinstance(total, NabScore)
    assert total.normalised == pytest.approx(50.0)


def test_the_low_fn_profile_weighs_misses_double() -> None:
    assert nab_score(T, WINDOWS, [], profile=REWARD_LOW_FN).raw == -4.0
    assert STANDARD.fp == 0.11


def test_windows_match_alerts_into_hits_false_positives_and_delays() -> None:
    match = match_windows(WINDOWS, [310 * 60.0, 320 * 60.0, 100 * 60.0, 900 * 60.0])
    assert (match.hits, match.windows, match.false_positives, match.alerts) == (1, 2, 2, 4)
    assert match.precision == pytest.approx(1 / 3)
    assert match.recall == 0.5
    assert match.f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert match.mean_delay == pytest.approx(10 / 99)


def test_no_alerts_mean_zero_f1_and_no_delay() -> None:
    match = match_windows(WINDOWS, [])
    assert (match.f1, match.mean_delay) == (0.0, None)
    assert math.isclose((match + match_windows(WINDOWS, [300 * 60.0])).recall, 0.25)
