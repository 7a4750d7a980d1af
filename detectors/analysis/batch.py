"""Evaluate all the series of one answer together, on a shared time grid.

A query_range answer puts every series on the same step grid, so its values stack into
one (series x points) matrix (NaN where a series has no point) and the threshold and
z-score kernels judge every row in a few numpy passes instead of one Python-level
evaluation per series. The results are exactly those of `evaluate` per series: each
row goes through the kernel `evaluate` would pick for that series, and the Findings
are built by the same functions, from the series' own points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from config.schema import AnalysisConfig, ThresholdAnalysis, ZScoreAnalysis
from detectors.analysis.evaluate import evaluate_arrays, value_name
from detectors.analysis.threshold import threshold_arrays, threshold_finding
from detectors.analysis.threshold_states import (
    check_bounds,
    even_step,
    last_true,
    states,
    states_for_one,
    states_uniform,
)
from detectors.analysis.zscore import z_rows, zscore_arrays, zscore_finding
from detectors.findings import Finding
from detectors.series import FloatArray, LabelledSeries

BoolArray = npt.NDArray[np.bool_]

MIN_BATCH = 8
"""Fewer series than this are evaluated one by one: stacking would not pay for itself."""


@dataclass(frozen=True)
class Grid:
    """Series stacked on the union of their timestamps, cut at `now`.

    Attributes:
        t_s: the shared stamps (unix seconds, sorted).
        values: (n_series, len(t_s)); NaN where a series has no point, or a NaN point.
        full: per series, True when its own stamps (up to now) are exactly `t_s`.
    """

    t_s: FloatArray
    values: FloatArray
    full: BoolArray


def evaluate_all(
    series: Sequence[LabelledSeries], analysis: AnalysisConfig, *, now: datetime, name: str | None = None
) -> list[Finding]:
    """The Findings of `analysis` on every series as of `now`, in order; as `evaluate` on each.

    Raises:
        AnalysisError: an analysis configured in a way it cannot honour (the caller can
            then evaluate series by series to learn which ones fail).
    """
    now_s = now.timestamp()
    if len(series) >= MIN_BATCH and isinstance(analysis, (ThresholdAnalysis, ZScoreAnalysis)):
        grid = align(series, now_s)
        if not grid.t_s.size:  # nothing up to now: every series says "no data" its own way
            return [
                evaluate_arrays(*s.until(now_s), s.labels, analysis, name=value_name(s.labels, name)) for s in series
            ]
        if isinstance(analysis, ThresholdAnalysis):
            return _thresholds(series, grid, analysis, now_s, name)
        return _zscores(series, grid, analysis, now_s, name)
    return [evaluate_arrays(*s.until(now_s), s.labels, analysis, name=value_name(s.labels, name)) for s in series]


def align(series: Sequence[LabelledSeries], now_s: float) -> Grid:
    """Stack `series` (at least one) on the union of their stamps up to `now_s`.

    Series of one answer usually share their stamps array (or have equal ones); only
    those that differ are placed by binary search.
    """
    base = series[0].t_s
    same = np.array([s.t_s is base or (s.t_s.shape == base.shape and np.array_equal(s.t_s, base)) for s in series])
    if same.all():
        stop = int(np.searchsorted(base, now_s, side="right"))
        values = np.stack([s.v[:stop] for s in series])
        return Grid(base[:stop], values, np.ones(len(series), bool))
    odd = np.flatnonzero(~same).tolist()
    t = np.unique(np.concatenate([base, *(series[i].t_s for i in odd)]))
    stop = int(np.searchsorted(t, now_s, side="right"))
    values = np.full((len(series), t.size), np.nan)
    values[np.ix_(same, np.searchsorted(t, base))] = np.stack([s.v for s, ok in zip(series, same) if ok])
    # Own stamps are a subset of the union, so equally many up to now means the same ones.
    full = same & (int(np.searchsorted(base, now_s, side="right")) == stop)
    for i in odd:
        own = series[i]
        values[i, np.searchsorted(t, own.t_s)] = own.v
        full[i] = int(np.searchsorted(own.t_s, now_s, side="right")) == stop
    return Grid(t[:stop], values[:, :stop], full)


def _thresholds(
    series: Sequence[LabelledSeries], grid: Grid, a: ThresholdAnalysis, now_s: float, name: str | None
) -> list[Finding]:
    check_bounds(a.above, a.below)  # states_uniform leaves it to its callers
    t, values = grid.t_s, grid.values
    last = last_true(~np.isnan(values))  # the latest non-NaN point of each row, -1 when none
    codes, since_s = _threshold_states(series, grid, a, now_s, last)
    findings = []
    for i, s in enumerate(series):
        label = value_name(s.labels, name)
        own_t, own_v = (t, values[i]) if grid.full[i] else s.until(now_s)
        if last[i] < 0:
            findings.append(threshold_arrays(own_t, own_v, above=a.above, below=a.below, name=label, labels=s.labels))
            continue
        began = float(since_s[i])
        findings.append(
            threshold_finding(
                own_t,
                own_v,
                int(codes[i]),
                None if np.isnan(began) else began,
                float(values[i, last[i]]),
                above=a.above,
                below=a.below,
                for_s=a.for_,
                hysteresis=a.hysteresis,
                name=label,
                labels=s.labels,
            )
        )
    return findings


def _threshold_states(
    series: Sequence[LabelledSeries], grid: Grid, a: ThresholdAnalysis, now_s: float, last: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.int8], FloatArray]:
    """(state code, breach start in unix seconds or NaN) of every row with data."""
    t, values = grid.t_s, grid.values
    rule = (a.above, a.below, a.for_, a.clear_after, a.hysteresis)
    codes = np.zeros(len(series), np.int8)
    since = np.full(len(series), -1, np.intp)
    # Per series, a NaN-free series on an even grid takes the run-based kernel and any
    # other the general one; rows do the same here, so rounding cannot set them apart.
    step_s = even_step(t) if t.size > 1 else None
    uniform = grid.full & ~np.isnan(values).any(axis=1) if step_s is not None else np.zeros(len(series), bool)
    if uniform.any() and step_s is not None:
        codes[uniform], since[uniform] = states_uniform(values[uniform], step_s, *rule, since=True)
    own_kernel = [i for i in np.flatnonzero(~grid.full & (last >= 0)).tolist() if _runs_apply(series[i], now_s)]
    general = ~uniform & (last >= 0)
    general[own_kernel] = False
    if general.any():
        # A gap is a NaN on the grid; the general kernel carries runs across NaN, so a
        # padded row gets the state its own points give it, at the same stamps.
        codes[general], since[general] = states(values[general], t, *rule)
    since_s = np.where(since >= 0, t[np.maximum(since, 0)], np.nan)
    for i in own_kernel:  # gappy series whose own points form an even grid: rare, done one by one
        own_t, own_v = series[i].until(now_s)
        code, at = states_for_one(own_v, own_t, *rule)
        codes[i], since_s[i] = code[0], own_t[at[0]] if at[0] >= 0 else np.nan
    return codes, since_s


def _runs_apply(series: LabelledSeries, now_s: float) -> bool:
    """True when `evaluate` would take the even-grid kernel for this (gappy) series."""
    t, v = series.until(now_s)
    return t.size > 1 and not bool(np.isnan(v).any()) and even_step(t) is not None


def _zscores(
    series: Sequence[LabelledSeries], grid: Grid, a: ZScoreAnalysis, now_s: float, name: str | None
) -> list[Finding]:
    t, values = grid.t_s, grid.values
    # Rows that are whole and NaN-free are the series' own points: z for all at once.
    # Others drop their NaN first, which moves points within the rolling windows.
    whole = grid.full & ~np.isnan(values).any(axis=1) if t.size > a.min_history else np.zeros(len(series), bool)
    rows = np.flatnonzero(whole)
    z = z_rows(values[rows], a.window_points, a.min_history) if rows.size else np.empty((0, t.size))
    z_of = dict(zip(rows.tolist(), z))
    findings = []
    for i, s in enumerate(series):
        label = value_name(s.labels, name)
        if i in z_of:
            findings.append(
                zscore_finding(
                    t,
                    values[i],
                    z_of[i],
                    threshold=a.threshold,
                    window_points=a.window_points,
                    direction=a.direction,
                    name=label,
                    labels=s.labels,
                )
            )
        else:
            findings.append(
                zscore_arrays(
                    *s.until(now_s),
                    threshold=a.threshold,
                    window_points=a.window_points,
                    min_history=a.min_history,
                    direction=a.direction,
                    name=label,
                    labels=s.labels,
                )
            )
    return findings
