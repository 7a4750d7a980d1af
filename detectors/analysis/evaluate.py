"""Run the analysis a detector's configuration asks for on one labelled series."""

from __future__ import annotations

from datetime import datetime

from config.schema import AnalysisConfig, AutoAnalysis, ChangePointAnalysis, ThresholdAnalysis, ZScoreAnalysis
from detectors.analysis.auto import auto_arrays
from detectors.analysis.changepoint import changepoint_arrays
from detectors.analysis.threshold import threshold_arrays
from detectors.analysis.zscore import zscore_arrays
from detectors.errors import AnalysisError
from detectors.findings import Finding
from detectors.series import FloatArray, LabelledSeries


def evaluate(series: LabelledSeries, analysis: AnalysisConfig, *, now: datetime, name: str | None = None) -> Finding:
    """The Finding of `analysis` on `series` as of `now`.

    Points after `now` are ignored, and a series with no (non-NaN) points yields an
    'ok' Finding that says so instead of an error.

    Args:
        series: the labelled series.
        analysis: a ThresholdAnalysis, ZScoreAnalysis, ChangePointAnalysis or AutoAnalysis.
        now: evaluation time (UTC-aware).
        name: what to call the value in messages; defaults to the `__name__` label,
            then "value".

    Returns:
        The Finding, carrying the series labels.

    Raises:
        AnalysisError: an analysis model this function does not know.
    """
    t, v = series.until(now.timestamp())
    return evaluate_arrays(t, v, series.labels, analysis, name=value_name(series.labels, name))


def value_name(labels: dict[str, str], name: str | None) -> str:
    """What messages call the value: the `__name__` label, else `name`, else "value"."""
    return labels.get("__name__") or name or "value"


def evaluate_arrays(
    t: FloatArray, v: FloatArray, labels: dict[str, str], analysis: AnalysisConfig, *, name: str
) -> Finding:
    """`evaluate` on one series' (unix seconds, values) already cut at `now`."""
    if isinstance(analysis, ThresholdAnalysis):
        return threshold_arrays(
            t,
            v,
            above=analysis.above,
            below=analysis.below,
            for_s=analysis.for_,
            clear_after_s=analysis.clear_after,
            hysteresis=analysis.hysteresis,
            name=name,
            labels=labels,
        )
    if isinstance(analysis, ZScoreAnalysis):
        return zscore_arrays(
            t,
            v,
            threshold=analysis.threshold,
            window_points=analysis.window_points,
            min_history=analysis.min_history,
            direction=analysis.direction,
            name=name,
            labels=labels,
        )
    if isinstance(analysis, ChangePointAnalysis):
        return changepoint_arrays(
            t,
            v,
            method=analysis.method,
            penalty=analysis.penalty,
            min_shift=analysis.min_shift,
            min_shift_sigma=analysis.min_shift_sigma,
            recent=analysis.recent,
            direction=analysis.direction,
            min_size=analysis.min_size,
            name=name,
            labels=labels,
        )
    if isinstance(analysis, AutoAnalysis):
        return auto_arrays(
            t,
            v,
            threshold=analysis.threshold,
            margin=analysis.margin,
            hold=analysis.hold,
            seasonality=analysis.seasonality,
            direction=analysis.direction,
            local_points=analysis.local_points,
            min_history=analysis.min_history,
            agree=analysis.agree,
            min_effect=analysis.min_effect,
            peak_quantile=analysis.peak_quantile,
            slow_points=analysis.slow_points,
            name=name,
            labels=labels,
        )
    raise AnalysisError(f"unknown analysis {type(analysis).__name__}")
