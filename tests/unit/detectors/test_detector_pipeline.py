"""pipeline.run: one detector tick over any Source."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from config.schema import DetectorConfig
from detectors.errors import SourceError
from detectors.pipeline import default_step_s, run
from detectors.series import LabelledSeries

NOW = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)


class FakeSource:
    """Records fetch calls and returns canned series (or raises)."""

    name = "fake"

    def __init__(self, series=None, error: SourceError | None = None) -> None:
        self.series, self.error, self.calls = series or [], error, []

    def fetch(self, query, *, start, end, step_s):
        self.calls.append((query, start, end, step_s))
        if self.error:
            raise self.error
        return self.series


def detector(analysis: dict, **kw) -> DetectorConfig:
    return DetectorConfig.model_validate(
        {"name": "cpu", "source": "fake", "query": "cpu_percent", "analysis": analysis, **kw}
    )


def points(values, end=NOW, step_s=15.0) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, float)
    return end.timestamp() - step_s * np.arange(v.size)[::-1], v


def test_it_fetches_the_window_ending_now_at_window_over_240():
    src = FakeSource()
    run(detector({"type": "threshold", "above": 1}, window="1h"), src, now=NOW)
    assert src.calls == [("cpu_percent", NOW - timedelta(hours=1), NOW, 15.0)]
    assert default_step_s(detector({"type": "threshold", "above": 1}, window="2m", interval="1m")) == 1.0
    assert default_step_s(detector({"type": "threshold", "above": 1}, step="30s")) == 30.0


def test_it_evaluates_every_series_and_keeps_their_labels():
    a = LabelledSeries.from_arrays({"host": "a"}, *points([50, 97.2, 97.2]))
    b = LabelledSeries.from_arrays({"host": "b"}, *points([50, 50, 50]))
    result = run(detector({"type": "threshold", "above": 90, "for": "30s"}), FakeSource([a, b]), now=NOW)
    assert result.error is None and result.series_count == 2 and result.points == 6
    assert [(f.labels, f.state) for f in result.findings] == [({"host": "a"}, "pending"), ({"host": "b"}, "ok")]
    assert result.findings[0].message.startswith("cpu_percent 97.2 > 90 for 15s")
    assert result.duration_s > 0


def test_a_source_error_is_reported_not_raised():
    src = FakeSource(error=SourceError('prometheus source "p": boom', source="p"))
    result = run(detector({"type": "zscore"}), src, now=NOW)
    assert result.error == 'prometheus source "p": boom' and result.findings == []


def test_empty_and_nan_only_series_are_ok_findings_with_a_message():
    empty = LabelledSeries.from_arrays({"i": "1"}, [], [])
    nan = LabelledSeries.from_arrays({"i": "2"}, *points([np.nan, np.nan]))
    for analysis in ({"type": "threshold", "above": 1}, {"type": "zscore"}, {"type": "changepoint"}):
        result = run(detector(analysis), FakeSource([empty, nan]), now=NOW)
        assert [f.state for f in result.findings] == ["ok", "ok"]
        assert all("no data" in f.message for f in result.findings)


def test_points_after_now_are_ignored():
    s = LabelledSeries.from_arrays({}, *points([50, 50, 99], end=NOW + timedelta(seconds=15)))
    [finding] = run(detector({"type": "threshold", "above": 90}), FakeSource([s]), now=NOW).findings
    assert finding.state == "ok"


def test_a_change_point_detector_reports_the_shift():
    rng = np.random.default_rng(0)
    v = rng.normal(100, 2, 240)
    v[220:] += 30
    s = LabelledSeries.from_arrays({"__name__": "latency"}, *points(v))
    [f] = run(detector({"type": "changepoint"}), FakeSource([s]), now=NOW).findings
    assert f.state == "firing" and f.kind == "changepoint" and f.labels == {"__name__": "latency"}
    assert f.message.startswith("latency shifted")


def test_an_analysis_the_matrix_path_cannot_run_is_reported_per_series():
    from config.schema import ThresholdAnalysis

    many = [LabelledSeries.from_arrays({"i": str(i)}, *points([50, 60])) for i in range(10)]
    broken = detector({"type": "threshold", "above": 1}).model_copy(
        update={
            "analysis": ThresholdAnalysis.model_construct(
                type="threshold", above=None, below=None, for_=0.0, clear_after=0.0, hysteresis=0.0
            )
        }
    )
    result = run(broken, FakeSource(many), now=NOW)
    assert len(result.findings) == 10 and all(f.state == "ok" for f in result.findings)
    assert "cannot analyse this series (threshold needs 'above' or 'below'" in result.findings[3].message
    assert result.findings[3].labels == {"i": "3"}


def test_many_series_on_one_grid_give_what_each_gives_alone():
    from detectors.analysis.evaluate import evaluate

    rng = np.random.default_rng(3)
    t, _ = points(np.zeros(240))
    many = [LabelledSeries.from_arrays({"host": str(i)}, t, 88 + rng.normal(0, 1, 240).cumsum()) for i in range(50)]
    d = detector({"type": "threshold", "above": 90, "for": "1m"})
    result = run(d, FakeSource(many), now=NOW)
    assert [f.to_dict() for f in result.findings] == [
        evaluate(s, d.analysis, now=NOW, name="cpu_percent").to_dict() for s in many
    ]
    assert {f.state for f in result.findings} == {"ok", "pending", "firing"}
