"""Score alerts against labelled anomaly windows: window matching (precision, recall, F1,
delay) and the Numenta Anomaly Benchmark (NAB) score.

The NAB score follows NAB's published scorer (Lavin & Ahmad 2015; numenta/NAB
`nab/sweeper.py`), reimplemented here:

- Rows in the first `probation` fraction of a series (at most 15% of 5,000 rows) are
  not scored: a detection there counts for nothing, and a window lying wholly inside it
  is not counted.
- Inside a window of `width` rows ending at row `right`, a detection at row i has the
  relative position y = -(right - i + 1) / width (-1 at the window's first row, near 0
  at its last) and earns A_TP * σs(y) / σs(-1), where σs(y) = 2 / (1 + e^{5y}) - 1.
  Only the best (earliest) detection of a window counts; a window without one costs
  -A_FN.
- A detection outside every window costs A_FP * σs(y) (σs < 0 here), where y is the
  distance in rows past the previous window's last row over (that window's width - 1),
  and σs = -1 when y >= 3 or no window came before: a false alarm just after an incident
  costs little, one far from any costs the full A_FP.
- A corpus's raw score is the sum over its series; the normalised score is
  100 * (raw - null) / (perfect - null), where the null detector (no detections) scores
  -A_FN per window and the perfect one (a detection at each window's first row) A_TP
  per window: null -> 0, perfect -> 100.

Detections are times (unix seconds); each maps to the last row at or before it, the
newest point the job that raised it could have seen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Window = tuple[float, float]
"""(start, end) of a labelled anomaly window, unix seconds, both inclusive."""


@dataclass(frozen=True)
class Profile:
    """NAB's application profile: the weights of a true positive, a false positive and a miss."""

    tp: float = 1.0
    fp: float = 0.11
    fn: float = 1.0


STANDARD = Profile()
REWARD_LOW_FP = Profile(fp=0.22)
REWARD_LOW_FN = Profile(fn=2.0)
PROFILES = {"standard": STANDARD, "reward_low_fp_rate": REWARD_LOW_FP, "reward_low_fn_rate": REWARD_LOW_FN}

PROBATION = 0.15
"""NAB's probationary fraction of every series; at most PROBATION * 5000 rows."""


@dataclass(frozen=True)
class NabScore:
    """One series' (or a corpus's, summed) NAB score parts.

    Attributes:
        raw: the detector's score.
        null: what no detection at all scores (-A_FN per scored window).
        perfect: what one detection at each window's first row scores.
    """

    raw: float
    null: float
    perfect: float

    @property
    def normalised(self) -> float:
        """100 * (raw - null) / (perfect - null); 0 when there is no window to score."""
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span > 0 else 0.0

    def __add__(self, other: "NabScore") -> "NabScore":
        return NabScore(self.raw + other.raw, self.null + other.null, self.perfect + other.perfect)


@dataclass(frozen=True)
class WindowMatch:
    """Alerts matched to windows: a window with an alert inside is a hit, an alert outside all a false positive.

    Attributes:
        hits: windows with at least one alert inside.
        windows: all windows.
        false_positives: alerts outside every window.
        alerts: all alerts.
        delays: per hit window, (first alert inside - window start) / window length, in [0, 1].
    """

    hits: int
    windows: int
    false_positives: int
    alerts: int
    delays: tuple[float, ...] = ()

    @property
    def precision(self) -> float:
        """hits / (hits + false positives); 0 with neither."""
        found = self.hits + self.false_positives
        return self.hits / found if found else 0.0

    @property
    def recall(self) -> float:
        """hits / windows; 0 without windows."""
        return self.hits / self.windows if self.windows else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    @property
    def mean_delay(self) -> float | None:
        """The mean of `delays`, None when no window was hit."""
        return sum(self.delays) / len(self.delays) if self.delays else None

    def __add__(self, other: "WindowMatch") -> "WindowMatch":
        return WindowMatch(
            self.hits + other.hits,
            self.windows + other.windows,
            self.false_positives + other.false_positives,
            self.alerts + other.alerts,
            self.delays + other.delays,
        )


def scaled_sigmoid(y: float) -> float:
    """NAB's 2·σ(-5y) - 1: 0.987 at y = -1, 0 at y = 0, -0.987 at y = 1, and -1 from y = 3 on."""
    if y >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def match_windows(windows: Sequence[Window], alerts_s: Sequence[float]) -> WindowMatch:
    """Match alert times to windows (both ends inclusive).

    Args:
        windows: labelled (start, end) pairs, unix seconds, not overlapping.
        alerts_s: alert times (when each alert fired), unix seconds.

    Returns:
        The WindowMatch.
    """
    alerts = sorted(alerts_s)
    inside = [False] * len(alerts)
    hits, delays = 0, []
    for start, end in windows:
        found = [i for i, a in enumerate(alerts) if start <= a <= end]
        for i in found:
            inside[i] = True
        if found:
            hits += 1
            delays.append((alerts[found[0]] - start) / (end - start) if end > start else 0.0)
    return WindowMatch(hits, len(windows), inside.count(False), len(alerts), tuple(delays))


def nab_score(
    t_s: npt.ArrayLike,
    windows: Sequence[Window],
    detections_s: Sequence[float],
    *,
    profile: Profile = STANDARD,
    probation: float = PROBATION,
) -> NabScore:
    """NAB's score of detections on one series (see the module docstring).

    Args:
        t_s: the series' row timestamps, unix seconds, sorted.
        windows: labelled (start, end) pairs, unix seconds, sorted and not overlapping;
            each maps to the rows it spans.
        detections_s: detection times, unix seconds; each maps to the last row at or
            before it (a time before the first row is dropped).
        profile: the weights (STANDARD: A_TP = 1, A_FP = 0.11, A_FN = 1).
        probation: the unscored leading fraction of rows.

    Returns:
        The NabScore (raw, null, perfect) of this series.
    """
    t = np.asarray(t_s, dtype=np.float64)
    n = t.size
    scored_from = min(math.floor(probation * n), probation * 5000)
    every = []  # (first row, last row) of each window holding a row
    for start, end in windows:
        left = int(np.searchsorted(t, start, side="left"))
        right = int(np.searchsorted(t, end, side="right")) - 1
        if right >= left:
            every.append((left, right))
    spans = [(left, right) for left, right in every if right >= scored_from]  # the scored windows
    rows = sorted({int(np.searchsorted(t, d, side="right")) - 1 for d in detections_s})
    best = [-profile.fn] * len(spans)
    fp = 0.0
    max_tp = scaled_sigmoid(-1.0)
    for i in rows:
        if i < 0 or i < scored_from:
            continue
        at = next((k for k, (left, right) in enumerate(spans) if left <= i <= right), None)
        if at is not None:
            left, right = spans[at]
            width = float(right - left + 1)
            best[at] = max(best[at], scaled_sigmoid(-(right - i + 1) / width) * profile.tp / max_tp)
            continue
        before = [(left, right) for left, right in every if right < i]
        if before and before[-1][1] > before[-1][0]:
            left, right = before[-1]
            y = (i - right) / float(right - left)  # (width - 1) as NAB: width counts both ends
        else:
            y = 3.0
        fp += scaled_sigmoid(y) * profile.fp
    return NabScore(raw=sum(best) + fp, null=-profile.fn * len(spans), perfect=profile.tp * len(spans))
