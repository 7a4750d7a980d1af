"""One detector tick: fetch the window, evaluate every series. Live jobs and backtests share it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from config.schema import DetectorConfig
from detectors.analysis.batch import evaluate_all
from detectors.analysis.evaluate import evaluate
from detectors.errors import AnalysisError, NotEnoughDataError, SourceError
from detectors.findings import Finding
from detectors.series import LabelledSeries
from detectors.sources.base import Source

POINTS_PER_WINDOW = 240
"""Default resolution: window / 240 (e.g. 15 s steps over an hour), at least 1 s."""

_MAX_NAME_CHARS = 40


@dataclass(frozen=True)
class DetectorRun:
    """What one tick of a detector produced.

    Attributes:
        findings: one per series (ok ones included, so open alerts can resolve).
        series_count: how many series the source returned.
        points: how many points they held in total.
        duration_s: wall time of fetch + analysis.
        error: the source's error message when the fetch failed, else None.
    """

    findings: list[Finding] = field(default_factory=list)
    series_count: int = 0
    points: int = 0
    duration_s: float = 0.0
    error: str | None = None


def default_step_s(definition: DetectorConfig) -> float:
    """The step to fetch at: the configured one, else window / 240 but at least 1 s."""
    if definition.step is not None:
        return float(definition.step)
    return max(1.0, definition.window / POINTS_PER_WINDOW)


def run(definition: DetectorConfig, source: Source, *, now: datetime) -> DetectorRun:
    """Fetch [now - window, now] from `source` and evaluate each series.

    Never raises for a source failure: the message lands in `DetectorRun.error` so one
    broken detector does not stop the others. A series without data gives an 'ok'
    Finding that says so.

    Args:
        definition: the detector (query, analysis, window, step).
        source: where the series come from.
        now: the evaluation time (UTC-aware); the live job passes the clock, a backtest
            the simulated time.

    Returns:
        The DetectorRun.
    """
    began = time.perf_counter()
    try:
        series = source.fetch(
            definition.query,
            start=now - timedelta(seconds=definition.window),
            end=now,
            step_s=default_step_s(definition),
        )
    except SourceError as exc:
        return DetectorRun(duration_s=time.perf_counter() - began, error=exc.message)
    name = _display_name(definition)
    try:
        findings = evaluate_all(series, definition.analysis, now=now, name=name)
    except (AnalysisError, NotEnoughDataError):
        findings = _evaluate_each(series, definition, now, name)  # to say which series cannot be analysed
    return DetectorRun(
        findings=findings,
        series_count=len(series),
        points=sum(s.points for s in series),
        duration_s=time.perf_counter() - began,
    )


def _evaluate_each(series: list[LabelledSeries], definition: DetectorConfig, now: datetime, name: str) -> list[Finding]:
    findings = []
    for one in series:
        try:
            findings.append(evaluate(one, definition.analysis, now=now, name=name))
        except (AnalysisError, NotEnoughDataError) as exc:
            findings.append(
                Finding(
                    definition.analysis.type,
                    dict(one.labels),
                    "ok",
                    message=f"{name}: cannot analyse this series ({exc})",
                )
            )
    return findings


def _display_name(definition: DetectorConfig) -> str:
    """The query when it is short enough to read in a message, else the detector name."""
    query = " ".join(definition.query.split())
    return query if len(query) <= _MAX_NAME_CHARS else definition.name
