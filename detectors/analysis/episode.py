"""Which level shift is still in force: the change-point detector's state, read from one window.

A live detector and a replay judge each window on its own, so the alert's state must
follow from the window alone. `judge` walks the window's segments (between change
points) from the oldest, like a small state machine:

- The first segment sets the baseline.
- A segment whose level is away from the baseline by at least `need` (min_shift, or
  min_shift_sigma times the noise of the two segments) in the watched direction opens an
  episode; a shift as large the other way just moves the baseline there.
- While an episode is open, smaller moves on the new level (or further away) change
  nothing: it is not announced again. It closes when the level comes back within
  `RETURN_FRACTION` of its largest excursion, or closer than `need`, and the level it
  came back to becomes the baseline.

So an alert stays firing while the level stays away from the level the window had before
the shift, and resolves when it returns, however long ago (within the window) the shift was.
"""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np

from detectors.analysis.noise import noise_sigma
from detectors.series import FloatArray

RETURN_FRACTION = 0.25
"""An episode closes when the level is back within this fraction of its largest excursion
from the baseline (hysteresis: it opened at `need`, a partial return keeps it open)."""

MIN_NOISE_POINTS = 10
"""A segment needs this many points for its own noise estimate to stand alone; a shorter
one's noise is the larger of its own estimate and the window's."""


@dataclass(frozen=True)
class Episode:
    """The window's verdict.

    Attributes:
        open: a shift in the watched direction is in force at the window's end.
        baseline: the level before that shift (or the level in force when none is open).
        level: the level of the last segment.
        onset: index of the first point of the episode's shift (open), else of the
            last change point, or None without change points.
        sigma: noise of the baseline's and the last segment, the unit of `need`.
        need: the smallest shift that counts.
        previous: the level of the segment before the last change point (None without).
        returned_to: when the last change point closed an episode, that episode's
            baseline (the level came back near it), else None.
    """

    open: bool
    baseline: float
    level: float
    onset: int | None
    sigma: float
    need: float
    previous: float | None = None
    returned_to: float | None = None


def judge(
    v: FloatArray, starts: list[int], *, window_sigma: float, min_shift: float, min_shift_sigma: float, direction: str
) -> Episode:
    """The episode in force at the end of `v`, given its change points `starts` (sorted, non-empty `v`).

    Args:
        v: the window's finite values.
        starts: indices where segments start (change points), without 0.
        window_sigma: the noise of the whole window, used for short segments.
        min_shift, min_shift_sigma: the smallest shift, in value units and in noise sigmas.
        direction: 'up', 'down' or 'both'.

    Returns:
        The Episode.
    """
    bounds = [0, *starts, v.size]
    levels = [float(bn.median(v[a:b])) for a, b in zip(bounds, bounds[1:])]
    sigmas = [_noise(v[a:b], window_sigma) for a, b in zip(bounds, bounds[1:])]
    base, base_sigma, onset, peak = levels[0], sigmas[0], None, 0.0
    returned_to = None
    for i in range(1, len(levels)):
        shift, need = levels[i] - base, _need(min_shift, min_shift_sigma, base_sigma, sigmas[i])
        returned_to = None
        if onset is not None:
            if _watched(shift, direction) and abs(shift) >= need and abs(shift) > RETURN_FRACTION * peak:
                peak = max(peak, abs(shift))
                continue
            onset, peak, returned_to = None, 0.0, base  # back: where it came back to is the new baseline
            base, base_sigma = levels[i], sigmas[i]
        elif abs(shift) >= need and _watched(shift, direction):
            onset, peak = bounds[i], abs(shift)
        elif abs(shift) >= need:
            base, base_sigma = levels[i], sigmas[i]
    sigma = max(base_sigma, sigmas[-1])
    last = onset if onset is not None else (bounds[-2] if starts else None)
    return Episode(
        onset is not None,
        base,
        levels[-1],
        last,
        sigma,
        _need(min_shift, min_shift_sigma, base_sigma, sigmas[-1]),
        previous=levels[-2] if starts else None,
        returned_to=returned_to,
    )


def _noise(segment: FloatArray, window_sigma: float) -> float:
    # Noise is often proportional to the level (2% of 10 is not 2% of 80), so each segment
    # gets its own estimate; a short one's is rough, so it may only raise the window's.
    own = noise_sigma(segment) if segment.size > 2 else 0.0
    if segment.size < MIN_NOISE_POINTS:
        return max(own, window_sigma)
    return own or window_sigma


def _need(min_shift: float, min_shift_sigma: float, a: float, b: float) -> float:
    return max(min_shift, min_shift_sigma * max(a, b), float(np.finfo(np.float64).tiny))


def _watched(shift: float, direction: str) -> bool:
    return direction == "both" or (shift > 0 if direction == "up" else shift < 0)
