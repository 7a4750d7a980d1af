"""Keep only the change points where the level jumps, not where a trend or a swing passes.

A mean-shift search cuts any smooth movement into steps: a trend becomes a staircase, a
daily swing a row of plateaus. What sets a real change apart is a discontinuity: fit the
segment on each side of a cut (its mean, or a line, or a parabola: see `_Segment.fit`),
extrapolate both to the cut, and a step leaves a gap between them while a trend or a
swing (continuous) does not. `keep_jumps` removes, weakest first, every cut whose gap is
not both significant (`MIN_JUMP_T` standard errors) and large relative to how far the data
stray from those fits (`MIN_JUMP_EFFECT` times their residual spread, at least the noise),
then judges the merged segments again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_JUMP_T = 8.0
"""The gap at a kept cut is at least this many standard errors of the two extrapolations.
Tuned on tests/changepoint_cases.py (bench/bench_changepoints.py): 6 keeps cuts between the
humps of daily swings, 10 misses an eighth of 3-sigma shifts 20 points from the end."""

MIN_JUMP_EFFECT = 2.0
"""The gap at a kept cut is at least this many times the larger residual spread of its two
segments (so a 3-sigma step in plain noise passes, a step inside wider swings must be larger)."""

TERM_PENALTY = 2.0
"""A segment's fit gets a slope (or a curvature) term when that removes more than
TERM_PENALTY * log(m) residual variances of squared error (1, plain BIC, lets a 20-point
flat segment take a chance slope one time in twelve and blur the gap)."""

FloatArray = npt.NDArray[np.float64]


@dataclass
class _Segment:
    """A segment [a, b) and its sums of z, t*z, t*t*z and z*z (t: the index); merging adds them."""

    a: int
    b: int
    z: float
    tz: float
    ttz: float
    zz: float

    def __add__(self, other: "_Segment") -> "_Segment":
        return _Segment(self.a, other.b, self.z + other.z, self.tz + other.tz, self.ttz + other.ttz, self.zz + other.zz)

    def fit(self, at: float) -> tuple[float, float, float]:
        """(value at index `at`, its variance factor, residual variance) of the segment's fit.

        The fit is the mean plus a slope and a curvature term (orthogonal polynomials
        centred on the segment), each kept only when it earns its keep (TERM_PENALTY): a
        flat segment is fitted by its mean, a trend by a line, one hump of a swing by a
        parabola, and each extrapolates to its ends as the data do.
        """
        m = self.b - self.a
        c = (self.a + self.b - 1) / 2
        s1 = self.tz - c * self.z  # sum of z * u, u = t - c
        s2 = self.ttz - 2 * c * self.tz + c * c * self.z  # sum of z * u^2
        q1 = m * (m * m - 1) / 12.0  # sum of u^2
        q2 = m * (m * m - 1) * (m * m - 4) / 180.0  # sum of (u^2 - q1/m)^2
        p2 = s2 - q1 / m * self.z
        gains = [s1 * s1 / q1 if q1 > 0 else 0.0, p2 * p2 / q2 if q2 > 0 else 0.0]
        sse = max(self.zz - self.z * self.z / m - gains[0] - gains[1], 0.0)
        bar = TERM_PENALTY * math.log(max(m, 2)) * max(sse / max(m - 3, 1), 1.0)
        u = at - c
        w = u * u - q1 / m
        value, h = self.z / m, 1.0 / m
        if m >= 4 and gains[0] >= bar:
            value, h = value + s1 / q1 * u, h + u * u / q1
        else:
            sse += gains[0]
        if m >= 6 and gains[1] >= bar:
            value, h = value + p2 / q2 * w, h + w * w / q2
        else:
            sse += gains[1]
        return value, h, sse / max(m - 1, 1)


def _segments(z: FloatArray, bounds: list[int]) -> list[_Segment]:
    terms = np.empty((4, z.size))
    terms[0] = z
    np.multiply(np.arange(z.size, dtype=np.float64), z, out=terms[1])
    np.multiply(np.arange(z.size, dtype=np.float64), terms[1], out=terms[2])
    np.multiply(z, z, out=terms[3])
    sums = np.add.reduceat(terms, bounds[:-1], axis=1).T.tolist()  # one pass for every segment
    return [_Segment(a, b, *row) for a, b, row in zip(bounds, bounds[1:], sums)]


def keep_jumps(
    z: FloatArray, starts: list[int], *, min_t: float = MIN_JUMP_T, min_effect: float = MIN_JUMP_EFFECT
) -> list[int]:
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
        segments[weakest : weakest + 2] = [segments[weakest] + segments[weakest + 1]]
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
