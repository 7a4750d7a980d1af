"""Change-point alerts follow the incident: firing while the level is away, resolved when it returns."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from config.schema import CsvSource, DetectorConfig
from detectors.analysis import changepoint
from detectors.lifecycle import replay
from detectors.sources import build_source
from tests.changepoint_cases import STEP_S, square_wave

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def csv_source(tmp_path, values):
    times = pd.date_range(T0, periods=len(values), freq=pd.Timedelta(seconds=STEP_S))
    path = tmp_path / "wave.csv"
    pd.DataFrame({"timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": values}).to_csv(path, index=False)
    return build_source(CsvSource(type="csv", name="csv", path=str(path)))


def at(index: int) -> datetime:
    return T0 + timedelta(seconds=STEP_S * index)


@pytest.mark.parametrize("seed", range(3))
def test_a_square_wave_raises_one_alert_per_up_shift_each_resolved_after_its_return(tmp_path, seed):
    values, phases = square_wave(seed)
    definition = DetectorConfig.model_validate(
        {
            "name": "wave",
            "source": "csv",
            "query": "value",
            "window": "1h",
            "interval": "30s",
            "analysis": {"type": "changepoint", "direction": "up", "min_shift_sigma": 3},
        }
    )
    alerts = replay(definition, csv_source(tmp_path, values), start=T0, end=at(values.size))
    assert len(alerts) == len(phases), [(a["start"], a["end"], a["message"]) for a in alerts]
    for alert, (up, down) in zip(alerts, phases):
        start, end = datetime.fromisoformat(alert["start"]), datetime.fromisoformat(alert["end"])
        assert at(up) <= start <= at(up) + timedelta(minutes=3)  # min_size points, then the next tick
        assert at(down) <= end <= at(down) + timedelta(minutes=3)
        before, after = (float(x) for x in re.match(r"value shifted (\S+) → (\S+) ", alert["message"]).groups())
        assert before == pytest.approx(10, rel=0.05) and after == pytest.approx(80, rel=0.05)


def test_wiggles_on_the_new_level_are_measured_against_that_level_s_noise(make_series):
    # Mostly at 10 (2% noise: sigma 0.2), then at 80 (sigma 1.6): the shift is counted in
    # the noise of the segments it joins, not in the quiet majority's.
    values, _ = square_wave(0, lead_min=45, high_min=15, low_min=0, cycles=1)
    f = changepoint(make_series(values), direction="up")
    assert f.state == "firing"
    sigmas = (f.after - f.before) / float(f.message.split(", ")[1].split("σ")[0])
    assert 1.0 < sigmas < 2.5  # 2% of 80 is 1.6


def test_a_partial_return_keeps_the_episode_and_a_full_one_ends_it(make_series):
    rng = np.random.default_rng(4)
    noise = rng.normal(0, 1, 240)
    partial = np.r_[np.full(120, 100.0), np.full(60, 160.0), np.full(60, 130.0)] + noise
    full = np.r_[np.full(120, 100.0), np.full(60, 160.0), np.full(60, 105.0)] + noise
    assert changepoint(make_series(partial), direction="up", recent=1.0).state == "firing"
    back = changepoint(make_series(full), direction="up", recent=1.0)
    assert back.state == "ok" and "back within 25%" in back.message


def test_a_drop_moves_the_baseline_of_an_up_detector(make_series):
    # 80 (left over from an earlier incident) -> 10 -> 80: the rise from 10 is the news.
    v = np.r_[np.full(60, 80.0), np.full(120, 10.0), np.full(60, 80.0)] + np.random.default_rng(5).normal(0, 1, 240)
    f = changepoint(make_series(v), direction="up")
    assert f.state == "firing" and f.before == pytest.approx(10, abs=0.5)
