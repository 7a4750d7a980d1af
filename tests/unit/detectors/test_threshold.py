"""Threshold analysis: for, hysteresis, clear_after, NaN gaps, and the matrix form."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.analysis import threshold, threshold_matrix
from detectors.analysis.threshold_states import states
from detectors.errors import AnalysisError


def test_it_is_ok_below_the_bound(make_series):
    f = threshold(make_series([50, 60, 70]), above=90)
    assert f.state == "ok" and f.value == 70 and f.threshold == 90
    assert "ok" in f.message


def test_it_fires_at_once_without_a_for_duration(make_series):
    f = threshold(make_series([50, 60, 97.2]), above=90)
    assert f.state == "firing"
    assert f.message == "value 97.2 > 90 for 0s"


def test_it_is_pending_until_the_for_duration_has_passed(make_series):
    # 4 breaching points 15 s apart have held for 45 s
    f = threshold(make_series([10, 95, 95, 95, 95]), above=90, for_s=60, name="cpu_percent")
    assert f.state == "pending"
    assert "pending" in f.message and f.message.startswith("cpu_percent 95 > 90 for 45s")


def test_it_fires_only_after_the_for_duration(make_series):
    s = make_series([10] + [97.2] * 9)  # breach held for 8 * 15 s = 2 min
    assert threshold(s, above=90, for_s=120, name="cpu_percent").state == "firing"
    assert threshold(s, above=90, for_s=121).state == "pending"
    f = threshold(s, above=90, for_s=120, name="cpu_percent")
    assert f.message == "cpu_percent 97.2 > 90 for 2m"
    assert f.active_since == s.index[1].to_pydatetime()


def test_a_dip_restarts_the_for_timer(make_series):
    s = make_series([95] * 8 + [80] + [95] * 3)
    assert threshold(s, above=90, for_s=60).state == "pending"


def test_it_supports_below_bounds(make_series):
    f = threshold(make_series([5, 4, 3, 2]), below=4.5, for_s=30)
    assert f.state == "firing" and "< 4.5" in f.message


def test_hysteresis_keeps_it_firing_until_the_value_is_clearly_back(make_series):
    s = make_series([95, 95, 95, 89, 88])  # back under 90 but not under 90 - 5
    assert threshold(s, above=90, hysteresis=5).state == "firing"
    assert threshold(s, above=90, hysteresis=0).state == "ok"
    assert threshold(make_series([95, 95, 95, 84]), above=90, hysteresis=5).state == "ok"


def test_hysteresis_band_does_not_count_toward_a_new_breach(make_series):
    assert threshold(make_series([50, 87, 88, 89]), above=90, hysteresis=5).state == "ok"


def test_it_stays_firing_until_clear_after_has_passed(make_series):
    s = make_series([95] * 5 + [50] * 4)  # clear for 3 * 15 = 45 s
    assert threshold(s, above=90, clear_after_s=60).state == "firing"
    assert threshold(s, above=90, clear_after_s=45).state == "ok"


def test_a_new_breach_during_clear_after_keeps_the_original_start(make_series):
    s = make_series([50, 95, 95, 50, 95, 50])
    f = threshold(s, above=90, clear_after_s=60)
    assert f.state == "firing"
    assert f.active_since == s.index[1].to_pydatetime()


def test_nan_points_neither_breach_nor_clear(make_series):
    nan = float("nan")
    s = make_series([95, nan, nan, 95, 95])  # a run across the gap: 60 s
    assert threshold(s, above=90, for_s=60).state == "firing"
    s2 = make_series([95, 95, 95, nan, nan])  # still firing, value = last real one
    f = threshold(s2, above=90)
    assert f.state == "firing" and f.value == 95
    assert threshold(make_series([95, 95, 50, nan]), above=90, clear_after_s=15).state == "firing"


def test_it_reports_ok_for_an_empty_or_all_nan_window(make_series):
    for values in ([], [float("nan")] * 3):
        f = threshold(make_series(values), above=90)
        assert f.state == "ok" and f.value is None and "no data" in f.message


def test_it_ignores_points_after_now(make_series):
    s = make_series([50, 50, 95, 95])
    assert threshold(s, above=90, now=s.index[1].to_pydatetime()).state == "ok"


def test_it_needs_a_bound(make_series):
    with pytest.raises(AnalysisError, match="above"):
        threshold(make_series([1, 2]))


def test_evidence_is_plot_ready(make_series):
    f = threshold(make_series([50, float("nan"), 95]), above=90)
    assert f.evidence["v"] == [50.0, None, 95.0] and len(f.evidence["t"]) == 3
    assert f.evidence["above"] == 90


def test_the_matrix_form_gives_one_state_per_series():
    values = np.array([[10, 10, 10, 10], [10, 95, 95, 95], [10, 10, 95, 95], [95, 95, 95, 80]], float)
    codes = threshold_matrix(values, above=90, for_s=30, step_s=15)
    assert codes.tolist() == [0, 2, 1, 0]


@pytest.mark.parametrize("seed", range(25))
def test_the_fast_matrix_path_matches_the_general_one(seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(30, int(rng.integers(1, 80)))).cumsum(axis=1)
    kwargs = dict(
        above=float(rng.normal()),
        below=float(rng.normal()) - 3 if seed % 2 else None,
        for_s=float(rng.integers(0, 8)) * 7.5,
        clear_after_s=float(rng.integers(0, 8)) * 7.5,
        hysteresis=float(rng.uniform(0, 1)),
    )
    fast = threshold_matrix(values, step_s=15.0, **kwargs)
    general, _ = states(
        values,
        np.arange(values.shape[1]) * 15.0,
        kwargs["above"],
        kwargs["below"],
        kwargs["for_s"],
        kwargs["clear_after_s"],
        kwargs["hysteresis"],
    )
    assert fast.tolist() == general.tolist()


def test_the_matrix_form_agrees_with_the_series_form(make_series):
    rng = np.random.default_rng(7)
    values = rng.normal(88, 4, size=(40, 60))
    values[rng.random(values.shape) < 0.05] = np.nan
    codes = threshold_matrix(values, above=90, for_s=45, clear_after_s=30, hysteresis=1, step_s=15)
    for row, code in zip(values, codes):
        f = threshold(make_series(row), above=90, for_s=45, clear_after_s=30, hysteresis=1)
        assert ["ok", "pending", "firing"][code] == f.state


@pytest.mark.parametrize("seed", range(25))
def test_the_even_grid_shortcut_gives_the_same_finding_as_the_general_path(make_series, seed):
    rng = np.random.default_rng(100 + seed)
    values = rng.normal(88, 4, 80)
    kwargs = dict(
        above=90.0,
        for_s=float(rng.integers(0, 6)) * 15,
        clear_after_s=float(rng.integers(0, 6)) * 15,
        hysteresis=float(rng.uniform(0, 2)),
    )
    even = threshold(make_series(values), **kwargs)
    values_with_gap = np.r_[values, np.nan]  # a trailing NaN forces the general path, same verdict
    general = threshold(make_series(values_with_gap), **kwargs)
    assert (even.state, even.active_since) == (general.state, general.active_since)
