"""Keep only the change points where the level jumps, not where a trend or a swing passes.

A mean-shift search cuts any smooth movement into steps: a trend becomes a staircase, a
daily swing a row of plateaus. What sets a real change apart is a discontinuity: fit a
line to the segment on each side of a cut, extrapolate both to the cut, and a step leaves
a gap between them while a trend or a swing (continuous) does not. `keep_jumps` removes,
weakest first, every cut whose gap is not both significant (`MIN_JUMP_T` standard errors)
and large relative to how far the data stray from those lines (`MIN_JUMP_EFFECT` times
their residual spread, at least the noise), then judges the merged segments again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_JUMP_T = 8.0
"""The gap at a kept cut is at least this many standard errors of the two extrapolations.
Tuned on tests/changepoint_cases.py (bench/bench_changepoints.py): 6 keeps cuts between the
plateaus of daily swings, 10 misses a fifth of 3-sigma shifts 20 points from the end."""

MIN_JUMP_EFFECT = 2.0
"""The gap at a kept cut is at least this many times the larger residual spread of its two
segments (so a 3-sigma step in plain noise passes, a step inside wider swings must be larger)."""

SLOPE_PENALTY = 2.0
"""A segment gets a slope when that removes more than SLOPE_PENALTY * log(m) residual
variances of squared error (1, plain BIC, lets a 20-point flat segment take a chance slope
one time in twelve and blur the gap)."""

FloatArray = npt.NDArray[np.float64]


@dataclass
class _Segment:
    """A segment [a, b) and its sums of z, t*z and z*z (t: the index); merging adds them."""

    a: int
    b: int
    z: float
    tz: float
    zz: float

    def __add__(self, other: "_Segment") -> "_Segment":
        return _Segment(self.a, other.b, self.z + other.z, self.tz + other.tz, self.zz + other.zz)

    def fit(self, at: float) -> tuple[float, float, float]:
        """(value at index `at`, its variance factor, residual variance) of the segment's line.

        A segment whose slope does not earn its keep (see SLOPE_PENALTY) is fitted by its
        mean instead, so a flat segment's extrapolation is not blurred by a spurious slope.
        """
        m = self.b - self.a
        mean, sse_flat = self.z / m, max(self.zz - self.z * self.z / m, 0.0)
        centre = (self.a + self.b - 1) / 2
        vt = m * (m * m - 1) / 12.0  # sum of (t - centre)^2
        cov = self.tz - centre * self.z  # sum of (t - centre) * z
        gain = cov * cov / vt if vt > 0 else 0.0
        var_line = max(sse_flat - gain, 0.0) / max(m - 2, 1)
        if m < 4 or gain < SLOPE_PENALTY * math.log(m) * max(var_line, 1.0):
            return mean, 1.0 / m, sse_flat / max(m - 1, 1)
        dt = at - centre
        return mean + cov / vt * dt, 1.0 / m + dt * dt / vt, var_line


def _segments(z: FloatArray, bounds: list[int]) -> list[_Segment]:
    starts = np.asarray(bounds[:-1])
    t = np.arange(z.size, dtype=np.float64)
    sums = [np.add.reduceat(x, starts).tolist() for x in (z, t * z, z * z)]
    return [_Segment(a, b, *row) for a, b, row in zip(bounds, bounds[1:], zip(*sums))]


def keep_jumps(z: FloatArray, starts: list[int], *, min_t: float = MIN_JUMP_T,
               min_effect: float = MIN_JUMP_EFFECT) -> list[int]:
    """The cuts of `starts` where `z` (noise sigma 1) jumps; see the module docstring.

    Args:
        z: finite values scaled so that their noise has standard deviation 1.
        starts: sorted segment starts (change points), without 0 and len(z).
        min_t, min_effect: the two bars a gap must pass.

    Returns:
        The kept subset of `starts`, sorted.
    """
    if not starts:
        return []
    segments = _segments(z, [0, *starts, z.size])
    scores = [_score(left, right, min_t, min_effect) for left, right in zip(segments, segments[1:])]
    while scores:
        weakest = min(range(len(scores)), key=scores.__getitem__)
        if scores[weakest] >= 1.0:
            break
        segments[weakest:weakest + 2] = [segments[weakest] + segments[weakest + 1]]
        del scores[weakest]
        # Only the cuts on either side of the merged segment see different data.
        for i in (weakest - 1, weakest):
            if 0 <= i < len(scores):
                scores[i] = _score(segments[i], segments[i + 1], min_t, min_effect)
    return [segment.a for segment in segments[1:]]


def _score(left: _Segment, right: _Segment, min_t: float, min_effect: float) -> float:
    """How far the cut between two segments clears both bars (>= 1 clears them)."""
    at = right.a - 0.5
    level_left, h_left, v_left = left.fit(at)
    level_right, h_right, v_right = right.fit(at)
    v_left, v_right = max(v_left, 1.0), max(v_right, 1.0)  # never below the noise itself
    gap = abs(level_right - level_left)
    se = math.sqrt(v_left * h_left + v_right * h_right)
    return min(gap / (min_t * se), gap / (min_effect * math.sqrt(max(v_left, v_right))))
