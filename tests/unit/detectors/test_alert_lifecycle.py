"""The alert state machine and the backtest replay."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from config.schema import CsvSource, DetectorConfig
from detectors.errors import AnalysisError
from detectors.lifecycle import fingerprint, replay, step
from detectors.sources import build_source

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "previous,finding,expected",
    [
        (None, "ok", (None, None)),
        (None, "pending", ("pending", "pending")),
        (None, "firing", ("firing", "firing")),
        ("pending", "pending", ("pending", None)),
        ("pending", "firing", ("firing", "firing")),
        ("pending", "ok", ("resolved", "cancelled")),
        ("firing", "firing", ("firing", None)),
        ("firing", "pending", ("firing", None)),
        ("firing", "ok", ("resolved", "resolved")),
        ("resolved", "ok", (None, None)),
        ("resolved", "firing", ("firing", "firing")),
    ],
)
def test_each_transition(previous, finding, expected):
    assert step(previous, finding) == expected


def test_unknown_states_are_refused():
    with pytest.raises(AnalysisError, match="unknown finding state 'bad'"):
        step(None, "bad")
    with pytest.raises(AnalysisError, match="unknown alert state 'open'"):
        step("open", "ok")


def test_fingerprints_ignore_label_order_and_separate_detectors():
    assert fingerprint("d", {"a": "1", "b": "2"}) == fingerprint("d", {"b": "2", "a": "1"})
    assert fingerprint("d", {"a": "1"}) != fingerprint("e", {"a": "1"})
    assert fingerprint("d", {"a": "1b"}) != fingerprint("d", {"a1": "b"})
    assert len(fingerprint("d", {})) == 64


def write_csv(path, values, step_s=60):
    times = pd.date_range(T0, periods=len(values), freq=pd.Timedelta(seconds=step_s))
    pd.DataFrame({"timestamp": times.strftime("%Y-%m-%dT%H:%M:%SZ"), "value": values}).to_csv(path, index=False)


def detector(analysis: dict, **kw) -> DetectorConfig:
    return DetectorConfig.model_validate(
        {"name": "d", "source": "csv", "query": "value", "analysis": analysis, "window": "30m", "interval": "5m", **kw}
    )


def test_replay_raises_and_resolves_a_threshold_alert(tmp_path):
    values = np.full(300, 50.0)
    values[120:150] = 95  # 02:00 to 02:29
    write_csv(tmp_path / "d.csv", values)
    src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / "d.csv")))
    alerts = replay(
        detector({"type": "threshold", "above": 90, "for": "10m"}), src, start=T0, end=T0 + timedelta(days=1)
    )
    assert len(alerts) == 1
    [a] = alerts
    assert a["start"] == "2024-01-01T02:10:00+00:00" and a["end"] == "2024-01-01T02:30:00+00:00"
    assert a["kind"] == "threshold" and a["value"] == 95.0 and a["labels"] == {}
    assert a["fingerprint"] == fingerprint("d", {})


def test_replay_never_sees_the_future(tmp_path):
    values = np.full(300, 50.0)
    values[-1] = 99  # only the very last point breaches
    write_csv(tmp_path / "d.csv", values)
    src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / "d.csv")))
    alerts = replay(
        detector({"type": "threshold", "above": 90}, interval="1m"), src, start=T0, end=T0 + timedelta(days=1)
    )
    assert [(a["start"], a["end"]) for a in alerts] == [("2024-01-01T04:59:00+00:00", None)]


def test_replay_reports_change_points(tmp_path):
    values = np.random.default_rng(1).normal(100, 2, 600)
    values[400:] += 40
    write_csv(tmp_path / "d.csv", values)
    src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / "d.csv")))
    alerts = replay(
        detector({"type": "changepoint"}, window="2h", interval="2m"), src, start=T0, end=T0 + timedelta(days=1)
    )
    assert len(alerts) == 1 and alerts[0]["kind"] == "changepoint"
    [at] = alerts[0]["change_points"]
    # at the first tick after the shift the new regime may still be shorter than min_size
    # (5 points), so the change point can sit up to min_size points early
    assert "2024-01-01T06:35:00+00:00" <= at <= "2024-01-01T06:43:00+00:00"
    assert "2024-01-01T06:40:00+00:00" <= alerts[0]["start"] <= "2024-01-01T06:46:00+00:00"


def test_a_backtest_of_a_series_shorter_than_its_window_still_alerts(tmp_path):
    # 5 days of hourly points under a 7-day window: the old replay started at first
    # point + window, past the end of the data, and judged nothing at all.
    values = np.random.default_rng(4).normal(50, 1, 120)
    values[96:104] += 30  # day 5: a sustained jump
    write_csv(tmp_path / "d.csv", values, step_s=3600)
    src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / "d.csv")))
    alerts = replay(detector({"type": "auto"}, window="7d", interval="1h"), src, start=T0, end=T0 + timedelta(days=30))
    assert len(alerts) == 1
    assert "2024-01-05T00:00:00+00:00" <= alerts[0]["start"] <= "2024-01-05T04:00:00+00:00"


def test_replay_judges_from_the_first_point_on_and_the_analysis_warms_up(tmp_path):
    values = np.full(300, 50.0)
    values[20:40] = 95  # inside what used to be the blind first window (30 minutes)
    write_csv(tmp_path / "d.csv", values)
    src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / "d.csv")))
    alerts = replay(
        detector({"type": "threshold", "above": 90}, interval="1m"), src, start=T0, end=T0 + timedelta(days=1)
    )
    assert [a["start"] for a in alerts] == ["2024-01-01T00:20:00+00:00"]


@pytest.mark.parametrize("step_s", [3600, 900])
def test_auto_judges_a_week_long_window_alike_at_any_sampling_rate(tmp_path, step_s):
    # 168 or 672 points per 7-day window: the clean daily swing raises nothing at either
    # rate, and a lasting jump is found at both, within hours.
    t = np.arange(int(14 * 86400 / step_s)) * step_s
    clean = 50 + 10 * np.sin(2 * np.pi * t / 86400) + np.random.default_rng(1).normal(0, 1.5, t.size)
    shifted = clean + np.where(t >= 10 * 86400 + 5 * 3600, 20.0, 0.0)  # day 11, 05:00
    found = []
    for name, values in (("clean", clean), ("shifted", shifted)):
        write_csv(tmp_path / f"{name}.csv", values, step_s=step_s)
        src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / f"{name}.csv")))
        found.append(
            replay(
                detector({"type": "auto"}, window="7d", interval=step_s, step=step_s),
                src,
                start=T0,
                end=T0 + timedelta(days=14),
            )
        )
    assert found[0] == []
    [alert] = found[1]
    assert "2024-01-11T05:00:00+00:00" <= alert["start"] <= "2024-01-11T10:00:00+00:00"
