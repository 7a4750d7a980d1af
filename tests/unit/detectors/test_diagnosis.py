"""The batch diagnosis ranking: causes first, on synthetic incidents with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.diagnosis import Params, diagnose, diagnose_series, jump_scan
from detectors.diagnosis.rank import time_weight
from detectors.series import LabelledSeries
from tests.diagnosis_cases import incident, ranks


def test_it_ranks_the_three_causes_first_on_fixed_incidents() -> None:
    rng = np.random.default_rng(2024)
    for _ in range(3):
        inc = incident(rng, signals=400)
        result = diagnose(inc.values, inc.t_s, inc.labels, start_s=inc.start_s, direction=1)
        assert sorted(r for r in ranks([s.row for s in result.suspects], inc.causes) if r) == [1, 2, 3]


def test_it_reports_change_time_lead_levels_and_a_short_series() -> None:
    t = 1_700_000_000 + 15.0 * np.arange(360)
    rng = np.random.default_rng(1)
    x = rng.normal(100, 1, (3, 360))
    x[1, 300:] += 8  # a cause: 8 sigmas, 20 points (300 s) before the alert at index 320
    result = diagnose(x, t, [{"i": "0"}, {"i": "1"}, {"i": "2"}], start_s=float(t[320]))
    top = result.suspects[0]
    assert top.labels == {"i": "1"} and top.row == 1
    assert abs(top.change_at_s - t[300]) <= 15 and abs(top.lead_s - 300) <= 15
    assert top.before == pytest.approx(100, abs=1) and top.after == pytest.approx(108, abs=1)
    assert 6 < top.effect_sigma < 10 and top.direction == "up"
    assert len(top.series["t"]) <= 120 and len(top.series["v"]) == len(top.series["t"])
    assert all(s.labels != {"i": "0"} for s in result.suspects)  # pure noise is no suspect


def test_it_prefers_a_change_before_the_alert_to_one_after_it() -> None:
    t = 15.0 * np.arange(360)
    x = np.random.default_rng(2).normal(0, 1, (2, 360))
    x[0, 330:] += 20  # after the alert: a consequence, however large
    x[1, 280:] += 5
    result = diagnose(x, t, [{"n": "after"}, {"n": "before"}], start_s=float(t[320]))
    assert [s.labels["n"] for s in result.suspects] == ["before", "after"]


def test_it_discounts_a_move_against_the_alert_only_for_a_signal_with_a_polarity() -> None:
    t = 15.0 * np.arange(200)
    x = np.random.default_rng(3).normal(0, 1, (2, 200))
    x[:, 150:] -= 6  # both fall; the alert's metric rose
    both = diagnose(x, t, [{"n": "own"}, {"n": "other"}], start_s=float(t[170]), direction=1, polarity=[1, 0])
    scores = {s.labels["n"]: s.score for s in both.suspects}
    assert scores["own"] < 0.5 * scores["other"]


def test_it_ignores_spikes_trends_and_swings_without_a_jump() -> None:
    n = 360
    t = 1_700_000_000 + 15.0 * np.arange(n)
    rng = np.random.default_rng(4)
    trend = 50 + 0.1 * np.arange(n) + rng.normal(0, 1, n)
    swing = 100 + 30 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 1, n)
    spiky = rng.normal(0, 1, n)
    spiky[[40, 200, 330]] += [25, -30, 40]
    result = diagnose(np.stack([trend, swing, spiky]), t, [{}, {}, {}], start_s=float(t[320]))
    assert result.suspects == []


def test_it_handles_gaps_constant_short_and_empty_input() -> None:
    t = 15.0 * np.arange(100)
    x = np.random.default_rng(5).normal(0, 1, (4, 100))
    x[0, 60:] += 10
    x[0, ::7] = np.nan  # gaps are filled from the previous point
    x[1] = 3.0  # constant
    x[2, :80] = np.nan  # mostly missing: not analysed
    result = diagnose(x, t, [{"n": str(i)} for i in range(4)], start_s=float(t[70]))
    assert [s.labels["n"] for s in result.suspects] == ["0"] and result.analysed == 3
    assert diagnose(x[:, :10], t[:10], [{}] * 4, start_s=0.0).suspects == []
    assert diagnose(np.empty((0, 100)), t, [], start_s=0.0).analysed == 0
    with pytest.raises(ValueError, match="do not match"):
        diagnose(x, t[:50], [{}] * 4, start_s=0.0)


def test_it_stacks_series_with_different_stamps() -> None:
    t = 15.0 * np.arange(200)
    rng = np.random.default_rng(6)
    a = LabelledSeries.from_arrays({"n": "a"}, t, rng.normal(0, 1, 200) + 8 * (t >= t[150]))
    b = LabelledSeries.from_arrays({"n": "b"}, t[::2], rng.normal(0, 1, 100))
    result = diagnose_series([a, b], start_s=float(t[160]))
    assert result.analysed == 2 and result.suspects[0].labels == {"n": "a"}
    assert all(s.score < 0.1 for s in result.suspects[1:])
    assert diagnose_series([], start_s=0.0).suspects == []


def test_it_finds_the_jump_position_in_every_row_at_once() -> None:
    x = np.random.default_rng(7).normal(0, 1, (50, 300))
    at = np.arange(50) * 4 + 50
    for row, k in enumerate(at):
        x[row, k:] += 6
    steps = jump_scan(x)
    assert np.all(np.abs(steps.k - at) <= 1) and np.all(steps.z > 6)


def test_it_weighs_time_with_a_plateau_before_and_a_fast_decay_after() -> None:
    w = time_weight(np.array([0.0, 600, 1200, 1800, 3600, -15, -120]), 15.0, Params())
    assert w[0] == w[1] == w[2] == 1.0
    assert w[3] == pytest.approx(np.exp(-1)) and w[4] < 0.02
    assert w[5] < 0.5 and w[6] < 0.01
