"""Change points: indices, methods, edge cases and the changepoint Finding."""

from __future__ import annotations

import numpy as np
import pytest
import ruptures as rpt

from detectors.analysis import binseg, change_points, changepoint, noise_sigma
from detectors.errors import AnalysisError

METHODS = ["kernelcpd", "binseg", "auto"]


def shifted(n: int, at: list[int], levels: list[float], seed: int = 0, sd: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = np.full(n, levels[0], float)
    for k, lv in zip(at, levels[1:]):
        level[k:] = lv
    return level + rng.normal(0, sd, n)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", range(5))
def test_it_finds_a_level_shift_within_a_few_points(method, seed):
    found = change_points(shifted(300, [180], [10, 15], seed), method=method)
    assert len(found) == 1 and abs(found[0] - 180) <= 3


@pytest.mark.parametrize("method", METHODS)
def test_it_finds_several_shifts_in_order(method):
    found = change_points(shifted(600, [150, 300, 450], [0, 6, -2, 4], seed=1), method=method)
    assert len(found) == 3
    assert all(abs(f - e) <= 3 for f, e in zip(found, [150, 300, 450]))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("at", [150, 230, 237])
def test_a_single_spike_does_not_fire(make_series, method, at):
    v = shifted(240, [], [0], seed=2)
    v[at] = 30  # an exact method may fence it in a min_size segment; medians ignore it
    f = changepoint(make_series(v), method=method)
    assert f.state == "ok"
    assert all(abs(i - at) <= 5 for i in change_points(v, method=method))


@pytest.mark.parametrize("method", METHODS)
def test_slow_drift_is_not_cut_into_steps(method):
    v = np.linspace(0, 20, 400) + np.random.default_rng(3).normal(0, 1, 400)
    assert change_points(v, method=method) == []
    assert len(change_points(v, method=method, jumps=False)) >= 1  # what the mean-shift search alone does


@pytest.mark.parametrize("method", METHODS)
def test_a_step_on_a_trend_is_found_once(method):
    v = np.linspace(0, 20, 400) + np.random.default_rng(3).normal(0, 1, 400)
    v[250:] += 8
    [at] = change_points(v, method=method)
    assert abs(at - 250) <= 3


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("values", [[], [1.0], [5.0] * 100, [1.0, 2.0] * 4], ids=["empty", "one", "constant", "short"])
def test_degenerate_series_have_no_change_points(method, values):
    assert change_points(np.array(values), method=method) == []


@pytest.mark.parametrize("method", METHODS)
def test_nan_gaps_are_skipped_and_indices_map_back(method):
    v = shifted(300, [200], [0, 8], seed=4)
    v[100:130] = np.nan
    v[195:205] = np.nan
    found = change_points(v, method=method)
    assert len(found) == 1 and 200 <= found[0] <= 208 and not np.isnan(v[found[0]])


def test_a_noiseless_step_is_found_exactly():
    v = np.r_[np.zeros(50), np.full(50, 10.0)]
    for method in METHODS:
        assert change_points(v, method=method) == [50]


def test_an_explicit_penalty_controls_sensitivity():
    v = shifted(300, [150], [0, 1.0], seed=5)
    assert change_points(v, method="binseg", penalty=1e6) == []
    assert 140 <= change_points(v, method="binseg", penalty=5.0, jumps=False)[0] <= 160
    assert change_points(v, method="binseg", penalty=5.0) == []  # a 1-sigma step is under the jump test's bar


def test_bad_arguments_are_reported():
    with pytest.raises(AnalysisError, match="min_size"):
        change_points(np.zeros(10), min_size=1)
    with pytest.raises(AnalysisError, match="unknown change-point method 'pelt'"):
        change_points(np.arange(50.0), method="pelt")


@pytest.mark.parametrize("seed", range(10))
def test_binseg_agrees_with_ruptures_on_clear_shifts(seed):
    v = shifted(400, [100, 250], [0, 5, -3], seed=seed)
    pen = 5.0 * np.log(400) * noise_sigma(v) ** 2
    ours = change_points(v, method="binseg", penalty=pen)
    theirs_binseg = rpt.Binseg(model="l2", min_size=5, jump=1).fit(v).predict(pen=pen)[:-1]
    theirs_kernel = rpt.KernelCPD(kernel="linear", min_size=5).fit(v.reshape(-1, 1)).predict(pen=pen)[:-1]
    assert ours == theirs_binseg == theirs_kernel


def test_binseg_returns_segment_starts_without_the_end():
    v = np.r_[np.zeros(20), np.ones(20) * 9] + np.random.default_rng(0).normal(0, 0.1, 40)
    assert binseg(v - v.mean(), penalty=1.0, min_size=5) == [20]


def test_it_fires_on_a_recent_large_shift(make_series):
    s = make_series(shifted(240, [210], [100, 130], seed=6, sd=2))
    f = changepoint(s, name="latency_p99")
    assert f.state == "firing" and f.kind == "changepoint"
    assert f.before == pytest.approx(100, abs=1) and f.after == pytest.approx(130, abs=2)
    assert f.change_points == [s.index[f.evidence["t"].index(f.evidence["change_points"][-1])].to_pydatetime()]
    assert f.active_since == f.change_points[-1]
    assert f.message.startswith("latency_p99 shifted 100") and "σ" in f.message


def test_an_old_shift_still_in_force_is_pending_not_announced(make_series):
    # An alert already firing stays firing on 'pending'; a detector started after the shift
    # records it without announcing it.
    f = changepoint(make_series(shifted(240, [60], [100, 130], seed=7, sd=2)), recent=0.25)
    assert f.state == "pending" and "started before the last 25%" in f.message and len(f.change_points) == 1


def test_a_shift_smaller_than_min_shift_does_not_fire(make_series):
    s = make_series(shifted(240, [210], [100, 130], seed=8, sd=2))
    f = changepoint(s, min_shift=50)
    assert f.state == "ok" and "smaller than 50" in f.message


@pytest.mark.parametrize("direction,expected", [("up", "ok"), ("down", "firing"), ("both", "firing")])
def test_direction_filters_shifts(make_series, direction, expected):
    s = make_series(shifted(240, [200], [100, 80], seed=9, sd=2))
    assert changepoint(s, direction=direction).state == expected


def test_short_and_empty_windows_are_ok_with_a_reason(make_series):
    assert "not enough data (4 points, need 10)" in changepoint(make_series([1, 2, 3, 4])).message
    assert "no data" in changepoint(make_series([])).message
    assert "no level shift" in changepoint(make_series(shifted(200, [], [3], seed=1))).message
