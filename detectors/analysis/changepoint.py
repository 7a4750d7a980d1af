"""Level-shift detection: where regimes change, and whether a shift is still in force.

`change_points` finds mean shifts with an L2 cost under a per-change penalty, either
exactly (ruptures' C-backed KernelCPD with a linear kernel, O(n^2)) or greedily
(`binseg`, numpy prefix sums, O(n log n)), then keeps only the cuts where the level
jumps (`jumps.keep_jumps`): a mean-shift search alone cuts a trend or a daily swing into
steps. The series is centred and scaled by its noise sigma before the search, so the
automatic penalty is simply `PENALTY_FACTOR * log(n)` and large magnitudes (bytes,
nanoseconds) do not lose precision in squared sums. `changepoint` turns the segments
into a Finding through `episode.judge`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import bottleneck as bn
import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.analysis.binseg import binseg
from detectors.analysis.episode import RETURN_FRACTION, Episode, judge
from detectors.analysis.jumps import keep_jumps
from detectors.analysis.noise import auto_penalty, noise_sigma
from detectors.errors import AnalysisError
from detectors.findings import Finding, LazyEvidence, State, format_value
from detectors.series import FloatArray, arrays, downsample_arrays, drop_nan, to_datetime

Method = Literal["auto", "kernelcpd", "binseg"]
Direction = Literal["up", "down", "both"]

AUTO_KERNELCPD_MAX_POINTS = 300
"""`auto` runs exact KernelCPD up to this many points and binseg above. KernelCPD's
penalised search is O(n^2) in C (0.4 ms at 240 points, 1.7 ms at 500 on one core), so
beyond the default 240-point window binseg keeps a detector tick cheap."""


def change_points(
    values: npt.ArrayLike | pd.Series,
    *,
    method: Method = "auto",
    penalty: float | None = None,
    min_size: int = 5,
    jumps: bool = True,
) -> list[int]:
    """Sorted indices where a new regime (mean level) starts.

    NaN points are dropped for the search and indices map back to the input, so a
    returned index is always a real (non-NaN) point. A series with fewer than
    2 * min_size valid points, or a constant one, has no change points ([]), rather
    than an error: "too short to tell" is a normal state for a young series.

    Args:
        values: 1-D numbers in time order (array or Series; the index is ignored).
        method: 'kernelcpd' (exact, ruptures), 'binseg' (greedy, numpy) or 'auto'
            (kernelcpd up to AUTO_KERNELCPD_MAX_POINTS points, binseg above).
        penalty: cost of one change point in squared units of the values; None
            derives `PENALTY_FACTOR * sigma^2 * log(n)` from a robust noise estimate.
        min_size: the shortest regime, in points (>= 2).
        jumps: keep only the cuts where the level jumps (lines fitted on both sides
            leave a gap); False returns the mean-shift search as it is, which also cuts
            trends and swings.

    Returns:
        Sorted indices into `values`, never 0 and never len(values).

    Raises:
        AnalysisError: unknown method, min_size < 2, or penalty <= 0.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    keep = np.flatnonzero(~np.isnan(x))
    found, _ = _search(x[keep], method, penalty, min_size, jumps)
    return [int(keep[i]) for i in found]


def _search(
    x: npt.NDArray[np.float64], method: str, penalty: float | None, min_size: int, jumps: bool = True
) -> tuple[list[int], float]:
    """(change points in x, noise sigma) for finite x."""
    if min_size < 2:
        raise AnalysisError(f"min_size must be >= 2, got {min_size}")
    if penalty is not None and penalty <= 0:
        raise AnalysisError(f"penalty must be > 0, got {penalty}")
    if method not in ("auto", "kernelcpd", "binseg"):
        raise AnalysisError(f"unknown change-point method {method!r} (auto, kernelcpd, binseg)")
    n = x.size
    sigma = noise_sigma(x) if n > 1 else 0.0
    if n < 2 * min_size or sigma == 0.0:
        return [], sigma
    z = (x - float(bn.median(x))) / sigma
    pen = auto_penalty(n, 1.0) if penalty is None else penalty / (sigma * sigma)
    if method == "kernelcpd" or (method == "auto" and n <= AUTO_KERNELCPD_MAX_POINTS):
        # Imported here: ruptures loads scipy.stats, seconds of every web worker's start.
        import ruptures as rpt

        ends = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(z.reshape(-1, 1)).predict(pen=pen)
        found = [int(e) for e in ends[:-1]]  # ruptures lists segment ends, incl. n
    else:
        found = binseg(z, penalty=pen, min_size=min_size)
    return (keep_jumps(z, found) if jumps else found), sigma


def changepoint(
    series: pd.Series,
    *,
    method: Method = "auto",
    penalty: float | None = None,
    min_shift: float = 0.0,
    min_shift_sigma: float = 3.0,
    recent: float = 0.25,
    direction: Direction = "both",
    min_size: int = 5,
    now: datetime | None = None,
    name: str = "value",
) -> Finding:
    """Fire while the level stays away, in the watched direction, from where it was before a shift.

    The window's change points split it into segments; `episode.judge` reads from them
    which shift is still in force (see there). A shift is announced ('firing') when it
    starts in the recent part of the window; while its level stays away from the baseline
    the Finding keeps saying so ('pending' once the shift is older than `recent`, which an
    alert that is already firing stays in, and which a detector started in the middle of
    an old shift records without announcing), and it is 'ok' once the level comes back.

    Args:
        series: float values on a UTC DatetimeIndex.
        method, penalty, min_size: as in `change_points`.
        min_shift: smallest |level - baseline| worth an alert, in value units.
        min_shift_sigma: smallest shift in noise sigmas (noise of the segments compared);
            the larger of the two applies.
        recent: a shift is announced only while it lies in this trailing fraction of the
            window's time span.
        direction: 'up', 'down' or 'both'.
        now: evaluation time; points after it are ignored.
        name: what to call the value in the message.

    Returns:
        A Finding (kind 'changepoint', labels empty) with every change point's time,
        after = the current level, and while a shift is in force before = its baseline and
        active_since = its start (otherwise the level before, and the time of, the last change).
    """
    t, v = arrays(series, now)
    return changepoint_arrays(
        t,
        v,
        method=method,
        penalty=penalty,
        min_shift=min_shift,
        min_shift_sigma=min_shift_sigma,
        recent=recent,
        direction=direction,
        min_size=min_size,
        name=name,
    )


def changepoint_arrays(
    t: FloatArray,
    v: FloatArray,
    *,
    method: Method = "auto",
    penalty: float | None = None,
    min_shift: float = 0.0,
    min_shift_sigma: float = 3.0,
    recent: float = 0.25,
    direction: Direction = "both",
    min_size: int = 5,
    name: str = "value",
    labels: dict[str, str] | None = None,
) -> Finding:
    """`changepoint` on (unix seconds, values) arrays already cut at `now`; labels go on the Finding."""
    t, v = drop_nan(t, v)
    found, sigma = _search(v, method, penalty, min_size)
    value = float(v[-1]) if v.size else None
    if not found:
        why = (
            "no data in the window"
            if not v.size
            else (
                f"not enough data ({v.size} points, need {2 * min_size})" if v.size < 2 * min_size else "no level shift"
            )
        )
        return Finding(
            "changepoint",
            dict(labels or {}),
            "ok",
            value=value,
            message=f"{name}: {why}",
            evidence=LazyEvidence(lambda: {**downsample_arrays(t, v), "change_points": []}),
        )
    ep = judge(v, found, window_sigma=sigma, min_shift=min_shift, min_shift_sigma=min_shift_sigma, direction=direction)
    assert ep.onset is not None  # judge names the last change point when no episode is open
    old = bool(t[ep.onset] < t[-1] - recent * (t[-1] - t[0]))
    state: State = ("pending" if old else "firing") if ep.open else "ok"
    # An open episode is told against its baseline; otherwise the last change as it is.
    before = ep.baseline if ep.open or ep.previous is None else ep.previous
    shift, since = ep.level - before, to_datetime(t[ep.onset])
    sig = f", {abs(shift) / ep.sigma:.1f}σ" if ep.sigma > 0 else ""
    text = (
        f"{name} shifted {format_value(before)} → {format_value(ep.level)} "
        f"({shift:+.4g}{sig}) at {since.strftime('%Y-%m-%d %H:%M:%SZ')}"
    )
    why = _why(state, shift, ep, direction, recent)
    extra = {
        "change_points": [float(t[i]) for i in found],
        "before": before,
        "after": ep.level,
        "baseline": ep.baseline,
        "min_shift": ep.need,
    }
    return Finding(
        "changepoint",
        dict(labels or {}),
        state,
        value=value,
        change_points=[to_datetime(t[i]) for i in found],
        before=before,
        after=ep.level,
        active_since=since,
        message=f"{text} ({why})" if why else text,
        evidence=LazyEvidence(lambda: {**downsample_arrays(t, v), **extra}),
    )


def _why(state: str, shift: float, ep: Episode, direction: str, recent: float) -> str:
    """What the message adds to "shifted a → b": why it is not (or no longer) announced."""
    if state == "firing":
        return ""
    if state == "pending":
        return f"still in force; it started before the last {recent:.0%} of the window"
    if ep.returned_to is not None:
        return f"back within {RETURN_FRACTION:.0%} of the shift from {format_value(ep.returned_to)}"
    reasons = []
    if abs(shift) < ep.need or shift == 0:
        reasons.append(f"smaller than {format_value(ep.need)}")
    if (direction == "up" and shift < 0) or (direction == "down" and shift > 0):
        reasons.append(f"not {direction}")
    return "; ".join(reasons) or f"within {format_value(ep.need)} of the baseline {format_value(ep.baseline)}"
