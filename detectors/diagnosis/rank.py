"""Rank the series that changed with an alert: likely causes first.

Each series gets its sharpest jump (`scan.jump_scan`), which scores

    score = log(1 + effect) * w_z * w_time(lead) * w_dir

- effect = |step| / noise: the jump in the series' own noise units (the MAD of its first
  differences as a sigma). The logarithm keeps a huge step from drowning a well-timed
  moderate one: timing says more about cause than size does. Below min_effect: 0.
- w_z = clip((z - min_z) / (sure_z - min_z), 0, 1), z being the jump in units of the
  series' own typical local change: a jump no larger than a wandering or swinging series
  makes anyway counts for nothing, a clear one fully.
- lead = alert start - change time, in seconds (> 0: the series moved first).
  w_time = 1 for 0 <= lead <= lead_full_s (a cause moves minutes before), then
  exp(-(lead - lead_full_s) / lead_scale_s) (an unrelated shift an hour earlier counts
  for little); for lead < 0, after_weight * exp(lead / (after_steps * step)): a change
  after the alert started cannot have caused it, but its time is only known to a step
  or two.
- w_dir = against_weight when the series has a known polarity towards the alert (+1: it
  rises when the alert's metric rises, e.g. the alert's own metric; -1: it falls) and
  moved against the alert's direction; otherwise 1. Most signals have no meaningful
  polarity (CPU up or free memory down can both precede latency up): magnitude and lead
  alone judge them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors.diagnosis.scan import WIDTHS, FloatArray, fill_gaps, jump_scan
from detectors.series import LabelledSeries, downsample_arrays

MIN_POINTS = 4 * min(WIDTHS)
"""Fewer points than this cannot hold a jump with windows on both sides."""


@dataclass(frozen=True)
class Params:
    """Tuning of the ranking (defaults tuned with bench/bench_diagnosis.py)."""

    min_z: float = 3.0
    sure_z: float = 6.0
    min_effect: float = 1.5
    lead_full_s: float = 1200.0
    lead_scale_s: float = 600.0
    after_steps: float = 2.0
    after_weight: float = 0.5
    against_weight: float = 0.3
    max_points: int = 120
    min_coverage: float = 0.5  # fewest finite points a series needs, as a fraction of the grid


@dataclass(frozen=True)
class Suspect:
    """One ranked series.

    Attributes:
        labels: the series' labels.
        change_at_s: unix seconds of the first point at the new level.
        lead_s: alert start minus change time (> 0: the change came first).
        before, after: median level over up to 30 points on each side of the change.
        effect_sigma: |step| in noise sigmas; z: the step's t-statistic in sigmas.
        direction: "up" or "down".
        score: see the module docstring.
        series: {"t": [...], "v": [...]}, at most Params.max_points points.
        row: the series' row in the input.
    """

    row: int
    labels: dict[str, str]
    change_at_s: float
    lead_s: float
    before: float
    after: float
    effect_sigma: float
    z: float
    direction: str
    score: float
    series: dict[str, list[Any]] = field(repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "labels": self.labels,
            "change_at_s": self.change_at_s,
            "lead_s": self.lead_s,
            "before": _finite(self.before),
            "after": _finite(self.after),
            "effect_sigma": round(self.effect_sigma, 3),
            "z": round(self.z, 3),
            "direction": self.direction,
            "score": round(self.score, 5),
            "series": self.series,
        }


@dataclass(frozen=True)
class Diagnosis:
    """The ranking of one analysis: `suspects` best first, and how many series were looked at."""

    suspects: list[Suspect]
    analysed: int
    changed: int  # series with a sure step anywhere in the window


def diagnose(
    values: npt.ArrayLike,
    t_s: npt.ArrayLike,
    labels: Sequence[Mapping[str, str]],
    *,
    start_s: float,
    direction: int = 0,
    polarity: npt.ArrayLike | None = None,
    params: Params = Params(),
    top: int = 50,
) -> Diagnosis:
    """Rank the rows of `values` by how likely their change explains an alert starting at `start_s`.

    Args:
        values: (series, points) on the shared, evenly spaced grid `t_s`; NaN is a gap.
        t_s: unix seconds of the grid.
        labels: one label set per row.
        start_s: the alert's start (unix seconds).
        direction: +1 the alert's metric went up, -1 down, 0 unknown.
        polarity: per row +1, -1 or 0 (see the module docstring); None: all 0.
        params: tuning.
        top: how many suspects to return.

    Returns:
        A Diagnosis; rows without a sure step are never suspects.

    Raises:
        ValueError: shapes that do not fit together.
    """
    x = np.asarray(values, dtype=np.float64)
    t = np.asarray(t_s, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != t.size or x.shape[0] != len(labels):
        raise ValueError(f"values {x.shape} do not match {len(labels)} label sets and {t.size} stamps")
    n = t.size
    if n < MIN_POINTS or x.shape[0] == 0:
        return Diagnosis([], 0, 0)
    usable = np.flatnonzero(np.isfinite(x).sum(axis=1) >= params.min_coverage * n)
    filled = fill_gaps(x[usable])
    steps = jump_scan(filled)
    effect = np.where(steps.noise > 0, np.abs(steps.delta) / np.where(steps.noise > 0, steps.noise, 1), 0.0)
    sure = (steps.z >= params.min_z) & (effect >= params.min_effect)
    step_s = float(np.median(np.diff(t)))
    lead = start_s - t[steps.k]
    pol = np.zeros(x.shape[0]) if polarity is None else np.asarray(polarity, dtype=np.float64)
    score = np.where(
        sure,
        np.log1p(effect)
        * sureness(steps.z, params)
        * time_weight(lead, step_s, params)
        * direction_weight(np.sign(steps.delta), pol[usable], direction, params),
        0.0,
    )
    order = np.argsort(-score, kind="stable")[:top]
    order = order[score[order] > 0]
    suspects = [
        _suspect(
            int(usable[i]),
            x,
            filled[i],
            t,
            labels,
            int(steps.k[i]),
            float(lead[i]),
            float(effect[i]),
            float(steps.z[i]),
            float(steps.delta[i]),
            float(score[i]),
            params,
        )
        for i in order.tolist()
    ]
    return Diagnosis(suspects, int(usable.size), int(sure.sum()))


def sureness(z: FloatArray, params: Params = Params()) -> FloatArray:
    """w_z: 0 at min_z, rising linearly to 1 at sure_z."""
    weight: FloatArray = np.clip((z - params.min_z) / (params.sure_z - params.min_z), 0.0, 1.0)
    return weight


def time_weight(lead_s: FloatArray, step_s: float, params: Params = Params()) -> FloatArray:
    """w_time of the module docstring, per lead (seconds)."""
    after_scale = max(params.after_steps * step_s, 1e-9)
    before = np.exp(-np.maximum(lead_s - params.lead_full_s, 0.0) / params.lead_scale_s)
    after = params.after_weight * np.exp(np.minimum(lead_s, 0.0) / after_scale)
    weight: FloatArray = np.where(lead_s >= 0, before, after)
    return weight


def direction_weight(moved: FloatArray, polarity: FloatArray, direction: int, params: Params = Params()) -> FloatArray:
    """w_dir of the module docstring: moved is the sign of each step, polarity each row's."""
    against = (direction != 0) & (polarity != 0) & (moved * polarity * direction < 0)
    weight: FloatArray = np.where(against, params.against_weight, 1.0)
    return weight


def diagnose_series(
    series: Sequence[LabelledSeries],
    *,
    start_s: float,
    direction: int = 0,
    polarity: Sequence[int] | None = None,
    params: Params = Params(),
    top: int = 50,
) -> Diagnosis:
    """`diagnose` for series as sources return them (stacked on the union of their stamps).

    Series of one query_range answer share a grid; series of several queries may not,
    and are placed on the union of all stamps (gaps become NaN, which are then filled).
    """
    if not series:
        return Diagnosis([], 0, 0)
    t = np.unique(np.concatenate([s.t_s for s in series]))
    values = np.full((len(series), t.size), np.nan)
    for i, s in enumerate(series):
        values[i, np.searchsorted(t, s.t_s)] = s.v
    return diagnose(
        values,
        t,
        [s.labels for s in series],
        start_s=start_s,
        direction=direction,
        polarity=polarity,
        params=params,
        top=top,
    )


def _suspect(
    row: int,
    raw: FloatArray,
    filled: FloatArray,
    t: FloatArray,
    labels: Sequence[Mapping[str, str]],
    k: int,
    lead: float,
    effect: float,
    z: float,
    delta: float,
    score: float,
    params: Params,
) -> Suspect:
    span = 30
    before = float(np.median(filled[max(0, k - span) : k]))
    after = float(np.median(filled[k : k + span]))
    return Suspect(
        row=row,
        labels=dict(labels[row]),
        change_at_s=float(t[k]),
        lead_s=lead,
        before=before,
        after=after,
        effect_sigma=effect,
        z=z,
        direction="up" if delta > 0 else "down",
        score=score,
        series=_downsampled(t, raw[row], params.max_points),
    )


def _downsampled(t: FloatArray, v: FloatArray, max_points: int) -> dict[str, list[Any]]:
    """Bucket means (a plot of the level, not of single outliers), NaN as None."""
    n = v.size
    if n <= max_points:
        return downsample_arrays(t, v, max_points)
    size = -(-n // max_points)
    buckets = -(-n // size)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = v
    with warnings.catch_warnings():  # an all-NaN bucket is a gap (None), not news
        warnings.simplefilter("ignore", category=RuntimeWarning)
        means = np.nanmean(padded.reshape(buckets, size), axis=1)
    return downsample_arrays(t[::size][:buckets], means, max_points)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
