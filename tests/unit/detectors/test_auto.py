"""The `auto` analysis on generated data: seasonality, spikes, shifts, drifts, edge cases."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from config.schema import AutoAnalysis, DetectorConfig
from detectors.analysis import auto, evaluate
from detectors.analysis.auto import baseline
from detectors.errors import AnalysisError
from detectors.series import LabelledSeries

from .conftest import end_of, series_of

STEP_S = 600.0  # 10-minute points: 144 a day
DAY = 144


def daily(days: float, *, seed: int = 1, noise: float = 1.0) -> np.ndarray:
    """A routine daily peak (amplitude 20) plus Gaussian noise."""
    n = int(days * DAY)
    i = np.arange(n)
    return 50 + 20 * np.sin(2 * np.pi * i / DAY) ** 8 * 1.0 + np.random.default_rng(seed).normal(0, noise, n)


def test_a_clean_seasonal_series_never_fires_across_a_week_of_runs() -> None:
    values = daily(14, seed=3)
    s = series_of(values, step_s=STEP_S)
    fired = [auto(s.iloc[i - 7 * DAY : i + 1]).state for i in range(7 * DAY, values.size, 6)]
    assert fired.count("firing") == 0


def test_it_picks_the_daily_baseline_when_the_series_has_a_daily_peak() -> None:
    model, _ = baseline(daily(7), STEP_S, "auto", 72)
    assert model == "daily"
    model, _ = baseline(np.random.default_rng(0).normal(0, 1, 7 * DAY), STEP_S, "auto", 72)
    assert model == "local"


def test_a_spike_off_the_daily_peak_fires() -> None:
    values = daily(7)
    values[-1] += 18  # within the daily range, but not at this time of day
    finding = auto(series_of(values, step_s=STEP_S), agree=1)
    assert finding.state == "firing"
    assert finding.kind == "auto"
    assert "daily baseline" in finding.message


def test_with_agree_two_a_lone_one_point_spike_needs_a_second_time_scale_to_agree() -> None:
    values = daily(7)
    values[-1] += 15
    assert auto(series_of(values, step_s=STEP_S), agree=2, min_effect=0.35).state == "ok"
    values[-4:] += 15
    assert auto(series_of(values, step_s=STEP_S), agree=2, min_effect=0.35).state == "firing"


def test_a_many_sigma_move_that_is_small_next_to_the_series_range_does_not_fire() -> None:
    values = daily(7, noise=0.1)  # the daily peak spans about 20; the noise is 0.1
    values[-6:] += 3  # 30 sigma off the daily baseline, but 15% of the range
    s = series_of(values, step_s=STEP_S)
    assert auto(s, min_effect=0.0).state == "firing"
    assert auto(s).state == "ok"  # min_effect 0.7: the move must reach about 14
    values[-6:] += 12
    assert auto(series_of(values, step_s=STEP_S)).state == "firing"


@pytest.mark.parametrize("direction, fires", [("both", True), ("up", True), ("down", False)])
def test_a_level_shift_fires_in_the_watched_direction(direction: str, fires: bool) -> None:
    values = np.random.default_rng(2).normal(10, 1, 5 * DAY)
    values[-20:] += 4
    finding = auto(series_of(values, step_s=STEP_S), direction=direction)  # type: ignore[arg-type]
    assert (finding.state == "firing") is fires


def test_a_slow_drift_fires_once_it_leaves_the_noise() -> None:
    values = np.random.default_rng(4).normal(10, 1, 5 * DAY)
    values[-60:] -= np.linspace(0, 8, 60)
    finding = auto(series_of(values, step_s=STEP_S))
    assert finding.state == "firing"
    assert finding.active_since is not None


def test_it_keeps_firing_for_the_hold_after_a_spike_then_resolves() -> None:
    values = np.random.default_rng(5).normal(0, 1, 5 * DAY)
    values[-54:-50] += 12  # four points, 50 points back (beyond the 24-point mean of the last 14)
    s = series_of(values, step_s=STEP_S)
    assert auto(s, hold=0.1).state == "firing"  # hold is 72 points
    assert auto(s, hold=0.02).state == "ok"  # hold is 14 points


def test_an_excursion_no_larger_than_the_windows_own_history_does_not_fire() -> None:
    values = np.random.default_rng(6).normal(0, 1, 5 * DAY)
    values[[100, 400]] += 10  # twice: one lone point alone would not set the bar (peak_quantile)
    values[-1] += 9
    assert auto(series_of(values, step_s=STEP_S)).state == "ok"


def test_a_single_extreme_point_last_week_does_not_mask_a_new_spike() -> None:
    values = np.random.default_rng(12).normal(0, 1, 7 * DAY)
    values[3 * DAY] += 40  # one wild point four days ago
    values[-1] += 12
    s = series_of(values, step_s=STEP_S)
    assert auto(s, agree=1).state == "firing"
    assert auto(s, agree=1, peak_quantile=1.0).state == "ok"  # the old rule: beat the largest |z| of the history


def test_a_spike_on_a_mostly_zero_series_fires_at_a_sane_sigma() -> None:
    rng = np.random.default_rng(11)
    values = np.zeros(6 * DAY)  # 75% zeros, small rare blips: the MAD is 0 at every time scale
    blips = rng.choice(values.size - 20, values.size // 4, replace=False)
    values[blips] = rng.uniform(0.5, 3.0, blips.size)
    assert auto(series_of(values, step_s=STEP_S)).state == "ok"
    values[-3:] = 40
    finding = auto(series_of(values, step_s=STEP_S))
    assert finding.state == "firing"
    assert finding.threshold is not None and finding.threshold < 100  # not a 1e16σ limit from rounding noise
    assert "e+" not in finding.message


def test_a_burst_of_swings_whose_mean_stays_level_fires_when_both_directions_are_watched() -> None:
    values = np.random.default_rng(13).normal(0, 1, 6 * DAY)
    values[[DAY - 40, 2 * DAY - 40, 3 * DAY - 40, 4 * DAY - 40, 5 * DAY - 40]] += [9, -9, 9, -9, 9]
    values[-12:] += 3.5 * (-1.0) ** np.arange(12)  # each swing alone is below the 4σ threshold
    s = series_of(values, step_s=STEP_S)
    assert auto(s, agree=1).state == "firing"  # the volatility signal alone
    assert auto(s, agree=1, direction="up").state == "ok"


def test_a_drop_that_lasts_a_day_fires_though_a_deeper_short_dip_came_before() -> None:
    values = np.random.default_rng(14).normal(50, 1, 7 * DAY)
    values[3 * DAY : 3 * DAY + 36] -= 12  # six hours, deeper: every local scale has seen worse
    values[-DAY:] -= 8  # the local median has long absorbed it; the slow one has not
    s = series_of(values, step_s=STEP_S)
    assert auto(s, agree=1).state == "firing"  # the slow-baseline signal alone
    assert auto(s, agree=1, slow_points=0).state == "ok"


@pytest.mark.parametrize("values, why", [([], "no data"), ([1.0] * 10, "warming up"), ([np.nan] * 50, "no data")])
def test_empty_short_and_nan_series_are_ok_and_say_why(values: list[float], why: str) -> None:
    finding = auto(series_of(values, step_s=STEP_S))
    assert finding.state == "ok"
    assert why in finding.message


def test_the_warm_up_message_says_how_far_along_it_is() -> None:
    finding = auto(series_of([1.0] * 12, step_s=STEP_S))  # 12 ten-minute points: 1h 50m
    assert finding.message == "value: warming up: 12 of 30 points (1h 50m of history)"


def test_a_constant_series_is_ok() -> None:
    assert auto(series_of([3.0] * 500, step_s=STEP_S)).state == "ok"


def test_nan_gaps_are_skipped() -> None:
    values = np.random.default_rng(7).normal(0, 1, 4 * DAY)
    values[200:260] = np.nan
    values[-5:] += 15
    assert auto(series_of(values, step_s=STEP_S)).state == "firing"


def test_points_after_now_are_ignored() -> None:
    values = np.random.default_rng(8).normal(0, 1, 4 * DAY)
    values[-3:] += 20
    s = series_of(values, step_s=STEP_S)
    assert auto(s, now=end_of(s) - timedelta(seconds=STEP_S * 5)).state == "ok"


def test_bad_options_are_refused() -> None:
    s = series_of(np.zeros(100), step_s=STEP_S)
    with pytest.raises(AnalysisError, match="hold"):
        auto(s, hold=0.7)
    with pytest.raises(AnalysisError, match="seasonality"):
        auto(s, seasonality="hourly")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="min_effect"):
        auto(s, min_effect=-1.0)
    with pytest.raises(AnalysisError, match="peak_quantile"):
        auto(s, peak_quantile=0.0)


def test_the_config_model_reaches_the_analysis_through_evaluate() -> None:
    values = np.random.default_rng(9).normal(0, 1, 4 * DAY)
    values[-4:] += 30
    s = series_of(values, step_s=STEP_S)
    labelled = LabelledSeries({"host": "a"}, pd.Index(s.index).astype("int64").to_numpy() / 1e9, s.to_numpy())
    definition = DetectorConfig.model_validate({"name": "d", "source": "s", "query": "q", "analysis": {"type": "auto"}})
    assert isinstance(definition.analysis, AutoAnalysis)
    finding = evaluate(labelled, definition.analysis, now=end_of(s))
    assert (finding.state, finding.labels) == ("firing", {"host": "a"})
    assert finding.to_dict()["evidence"]["model"] == "local"


def test_peak_quantile_and_slow_points_are_configurable() -> None:
    values = np.random.default_rng(12).normal(0, 1, 7 * DAY)
    values[3 * DAY] += 40
    values[-1] += 12
    s = series_of(values, step_s=STEP_S)
    labelled = LabelledSeries({}, pd.Index(s.index).astype("int64").to_numpy() / 1e9, s.to_numpy())

    def state(**options: object) -> str:
        definition = DetectorConfig.model_validate(
            {"name": "d", "source": "s", "query": "q", "analysis": {"type": "auto", "agree": 1, **options}}
        )
        return evaluate(labelled, definition.analysis, now=end_of(s)).state

    assert state() == "firing"
    assert state(peak_quantile=1.0) == "ok", "the configured quantile reaches the analysis"
    with pytest.raises(ValueError, match="slow_points"):
        DetectorConfig.model_validate(
            {"name": "d", "source": "s", "query": "q", "analysis": {"type": "auto", "slow_points": -1}}
        )
