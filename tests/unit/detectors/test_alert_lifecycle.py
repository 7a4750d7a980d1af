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


@pytest.mark.parametrize("previous,finding,expected", [
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
])
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
    return DetectorConfig.model_validate({"name": "d", "source": "csv", "query": "value", "analysis": analysis,
                                          "window": "30m", "interval": "5m", **kw})


def test_replay_raises_and_resolves_a_threshold_alert(tmp_path):
    values = np.full(300, 50.0)
    values[120:150] = 95  # 02:00 to 02:29
    write_csv(tmp_path / "d.csv", values)
    src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / "d.csv")))
    alerts = replay(detector({"type": "threshold", "above": 90, "for": "10m"}), src, start=T0,
                    end=T0 + timedelta(days=1))
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
    alerts = replay(detector({"type": "threshold", "above": 90}, interval="1m"), src, start=T0,
                    end=T0 + timedelta(days=1))
    assert [(a["start"], a["end"]) for a in alerts] == [("2024-01-01T04:59:00+00:00", None)]


def test_replay_reports_change_points(tmp_path):
    values = np.random.default_rng(1).normal(100, 2, 600)
    values[400:] += 40
    write_csv(tmp_path / "d.csv", values)
    src = build_source(CsvSource(type="csv", name="csv", path=str(tmp_path / "d.csv")))
    alerts = replay(detector({"type": "changepoint"}, window="2h", interval="2m"), src, start=T0,
                    end=T0 + timedelta(days=1))
    assert len(alerts) == 1 and alerts[0]["kind"] == "changepoint"
    [at] = alerts[0]["change_points"]
    # at the first tick after the shift the new regime may still be shorter than min_size
    # (5 points), so the change point can sit up to min_size points early
    assert "2024-01-01T06:35:00+00:00" <= at <= "2024-01-01T06:43:00+00:00"
    assert "2024-01-01T06:40:00+00:00" <= alerts[0]["start"] <= "2024-01-01T06:46:00+00:00"
