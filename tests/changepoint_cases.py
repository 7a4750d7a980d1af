"""Labelled change-point series (synthetic, fixed seeds) and the TCPDBench scores.

Each case is a series with the indices where a new regime starts, as a person marking the
plot would put them: level steps and variance changes are changes; a trend, a daily
swing, autocorrelated wandering and single outliers are not. Used by
tests/unit/detectors/test_changepoint_quality.py and bench/bench_changepoints.py.

Scores follow van den Burg & Williams, "An evaluation of change point detection
algorithms" (2020), with one annotator: both the annotations and the predictions include
index 0 (the start of the first segment), so a prediction of "no change" on a series
without changes scores F1 = 1 and cover = 1.

- F1: a prediction is a true positive when it lies within `margin` points of an
  annotation, each annotation matching at most one prediction (the closest);
  precision = TP / |predictions|, recall = TP / |annotations|.
- Cover: the true segments' best Jaccard overlap with a predicted segment, weighted by
  segment length (segmentation covering).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import ruptures as rpt

Rng = np.random.Generator


@dataclass(frozen=True)
class Case:
    name: str
    values: np.ndarray
    changes: list[int]  # where new regimes start, without 0


def _noise(rng: Rng, n: int, sd: float = 1.0, ar: float = 0.0) -> np.ndarray:
    e = rng.normal(0, sd, n)
    if ar:
        for i in range(1, n):  # AR(1): real metrics wander a little around their level
            e[i] += ar * e[i - 1]
        e *= np.sqrt(1 - ar * ar)
    return e


def _steps(n: int, at: Sequence[int], levels: Sequence[float]) -> np.ndarray:
    out = np.full(n, float(levels[0]))
    for k, lv in zip(at, levels[1:]):
        out[k:] = lv
    return out


def _cuts(rng: Rng, n: int, k: int, gap: int = 25) -> list[int]:
    """k sorted change indices at least `gap` apart and from both ends."""
    while True:
        at = sorted(int(a) for a in rng.integers(gap, n - gap, k))
        if all(b - a >= gap for a, b in zip(at, at[1:])):
            return at


def _shifts(rng: Rng, k: int, low: float, high: float) -> list[float]:
    levels = [0.0]
    for _ in range(k):
        levels.append(levels[-1] + rng.choice([-1, 1]) * rng.uniform(low, high))
    return levels


def _season(rng: Rng, n: int, amplitude: float) -> np.ndarray:
    period = int(rng.choice([12, 24, 48]))
    phase = rng.uniform(0, 2 * np.pi)
    return amplitude * np.sin(2 * np.pi * np.arange(n) / period + phase)


def _outliers(rng: Rng, x: np.ndarray, count: int, size: float) -> np.ndarray:
    x = x.copy()
    for i in rng.choice(x.size, count, replace=False):
        x[i] += rng.choice([-1, 1]) * size * rng.uniform(1, 1.5)
    return x


def _step(rng: Rng, n: int) -> Case:
    at = _cuts(rng, n, int(rng.integers(1, 4)))
    return Case("step", _steps(n, at, _shifts(rng, len(at), 3, 8)) + _noise(rng, n), at)


def _step_trend(rng: Rng, n: int) -> Case:
    at = _cuts(rng, n, 1)
    trend = np.linspace(0, rng.uniform(5, 15) * rng.choice([-1, 1]), n)
    return Case("step+trend", trend + _steps(n, at, _shifts(rng, 1, 6, 10)) + _noise(rng, n), at)


def _step_season(rng: Rng, n: int) -> Case:
    at = _cuts(rng, n, int(rng.integers(1, 3)))
    season = _season(rng, n, rng.uniform(1, 3))
    return Case("step+season", season + _steps(n, at, _shifts(rng, len(at), 6, 10)) + _noise(rng, n), at)


def _step_outliers(rng: Rng, n: int) -> Case:
    at = _cuts(rng, n, int(rng.integers(1, 3)))
    x = _steps(n, at, _shifts(rng, len(at), 4, 8)) + _noise(rng, n)
    return Case("step+outliers", _outliers(rng, x, max(1, n // 100), 8), at)


def _step_ar(rng: Rng, n: int) -> Case:
    at = _cuts(rng, n, int(rng.integers(1, 3)))
    return Case("step+ar", _steps(n, at, _shifts(rng, len(at), 5, 9)) + _noise(rng, n, ar=0.5), at)


def _variance(rng: Rng, n: int) -> Case:
    at = _cuts(rng, n, 1, gap=n // 4)
    sd = np.where(np.arange(n) < at[0], 1.0, rng.uniform(3, 5))
    return Case("variance", 10 + rng.normal(0, 1, n) * sd, at)


def _trend(rng: Rng, n: int) -> Case:
    return Case("trend", np.linspace(0, rng.uniform(5, 30) * rng.choice([-1, 1]), n) + _noise(rng, n), [])


def _season_only(rng: Rng, n: int) -> Case:
    return Case("season", _season(rng, n, rng.uniform(2, 8)) + _noise(rng, n), [])


def _trend_season(rng: Rng, n: int) -> Case:
    trend = np.linspace(0, rng.uniform(5, 20) * rng.choice([-1, 1]), n)
    return Case("trend+season", trend + _season(rng, n, rng.uniform(2, 6)) + _noise(rng, n), [])


def _outliers_only(rng: Rng, n: int) -> Case:
    return Case("outliers", _outliers(rng, _noise(rng, n), max(2, n // 60), 8), [])


def _ar_only(rng: Rng, n: int) -> Case:
    return Case("ar", 50 + _noise(rng, n, sd=2.0, ar=0.7), [])


def _flat(rng: Rng, n: int) -> Case:
    return Case("noise", 100 + _noise(rng, n, sd=3.0), [])


KINDS: list[Callable[[Rng, int], Case]] = [
    _step,
    _step_trend,
    _step_season,
    _step_outliers,
    _step_ar,
    _variance,
    _trend,
    _season_only,
    _trend_season,
    _outliers_only,
    _ar_only,
    _flat,
]


def cases(per_kind: int, seed: int = 2024) -> Iterator[Case]:
    """`per_kind` series of each kind, 100-600 points, the same for a given seed."""
    rng = np.random.default_rng(seed)
    for make in KINDS:
        for _ in range(per_kind):
            yield make(rng, int(rng.integers(100, 601)))


STEP_S = 15
"""The square wave's sampling interval, in seconds."""


def square_wave(
    seed: int,
    *,
    low: float = 10.0,
    high: float = 80.0,
    lead_min: int = 75,
    high_min: int = 30,
    low_min: int = 30,
    cycles: int = 3,
    noise: float = 0.02,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """low for lead_min, then `cycles` times high for high_min and low for low_min; 2% multiplicative noise.

    Returns the values (one every STEP_S seconds) and each high phase's (start, end) point index.
    """
    per_min = 60 // STEP_S
    level = [np.full(lead_min * per_min, low)]
    phases, at = [], lead_min * per_min
    for _ in range(cycles):
        level += [np.full(high_min * per_min, high), np.full(low_min * per_min, low)]
        phases.append((at, at + high_min * per_min))
        at += (high_min + low_min) * per_min
    values = np.concatenate(level)
    return values * (1 + np.random.default_rng(seed).normal(0, noise, values.size)), phases


def binseg_mbic(values: np.ndarray) -> list[int]:
    """The reference: ruptures' Binseg (L2 cost) on the series standardised to mean 0 and
    standard deviation 1, with an MBIC-like penalty of 3·log(n) per change."""
    sd = float(np.std(values))
    if sd == 0:
        return []
    z = ((values - values.mean()) / sd).reshape(-1, 1)
    return [int(i) for i in rpt.Binseg(model="l2", min_size=5, jump=1).fit(z).predict(pen=3 * np.log(values.size))[:-1]]


def f1_score(changes: Sequence[int], predicted: Sequence[int], margin: int = 5) -> tuple[float, float, float]:
    """(F1, precision, recall) with index 0 added to both sides (TCPDBench's convention)."""
    truth, left = sorted({0, *changes}), sorted({0, *predicted})
    pool = list(left)
    hits = 0
    for tau in truth:
        close = [(abs(tau - x), x) for x in pool if abs(tau - x) <= margin]
        if close:
            hits += 1
            pool.remove(min(close)[1])
    precision, recall = hits / len(left), hits / len(truth)
    return 2 * precision * recall / (precision + recall), precision, recall


def cover(changes: Sequence[int], predicted: Sequence[int], n: int) -> float:
    """Segmentation covering of the true segments by the predicted ones (1 is perfect)."""

    def segments(cps: Sequence[int]) -> list[tuple[int, int]]:
        edges = [0, *sorted({c for c in cps if 0 < c < n}), n]
        return list(zip(edges, edges[1:]))

    predicted_segments = segments(predicted)
    total = 0.0
    for a, b in segments(changes):
        best = 0.0
        for c, d in predicted_segments:
            inter = max(0, min(b, d) - max(a, c))
            if inter:
                best = max(best, inter / (max(b, d) - min(a, c)))
        total += (b - a) * best
    return total / n
