"""Level-shift detection: where regimes change, and whether a recent one matters.

`change_points` finds mean shifts with an L2 cost under a per-change penalty, either
exactly (ruptures' C-backed KernelCPD with a linear kernel, O(n^2)) or greedily
(`binseg`, numpy prefix sums, O(n log n)). `changepoint` turns the last change into a
Finding. The series is centred and scaled by its noise sigma before the search, so the
automatic penalty is simply `PENALTY_FACTOR * log(n)` and large magnitudes (bytes,
nanoseconds) do not lose precision in squared sums.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

import bottleneck as bn
import numpy as np
import numpy.typing as npt
import pandas as pd
import ruptures as rpt

from detectors.analysis.binseg import binseg
from detectors.analysis.noise import auto_penalty, noise_sigma
from detectors.errors import AnalysisError
from detectors.findings import Finding, LazyEvidence, format_value
from detectors.series import FloatArray, arrays, downsample_arrays, drop_nan, to_datetime

Method = Literal["auto", "kernelcpd", "binseg"]
Direction = Literal["up", "down", "both"]

AUTO_KERNELCPD_MAX_POINTS = 300
"""`auto` runs exact KernelCPD up to this many points and binseg above. KernelCPD's
penalised search is O(n^2) in C (0.4 ms at 240 points, 1.7 ms at 500 on one core), so
beyond the default 240-point window binseg keeps a detector tick cheap."""


def change_points(
    values: npt.ArrayLike | pd.Series, *, method: Method = "auto", penalty: float | None = None,
    min_size: int = 5,
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

    Returns:
        Sorted indices into `values`, never 0 and never len(values).

    Raises:
        AnalysisError: unknown method, min_size < 2, or penalty <= 0.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    keep = np.flatnonzero(~np.isnan(x))
    found, _ = _search(x[keep], method, penalty, min_size)
    return [int(keep[i]) for i in found]


def _search(x: npt.NDArray[np.float64], method: str, penalty: float | None, min_size: int) -> tuple[list[int], float]:
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
        ends = rpt.KernelCPD(kernel="linear", min_size=min_size).fit(z.reshape(-1, 1)).predict(pen=pen)
        return [int(e) for e in ends[:-1]], sigma  # ruptures lists segment ends, incl. n
    return binseg(z, penalty=pen, min_size=min_size), sigma


def changepoint(
    series: pd.Series, *, method: Method = "auto", penalty: float | None = None, min_shift: float = 0.0,
    min_shift_sigma: float = 3.0, recent: float = 0.25, direction: Direction = "both", min_size: int = 5,
    now: datetime | None = None, name: str = "value",
) -> Finding:
    """Fire when the window's last level shift is recent, large and in the watched direction.

    Args:
        series: float values on a UTC DatetimeIndex.
        method, penalty, min_size: as in `change_points`.
        min_shift: smallest |after - before| worth an alert, in value units.
        min_shift_sigma: smallest shift in noise sigmas; the larger of the two applies.
        recent: the last change must lie in this trailing fraction of the window's time span.
        direction: 'up', 'down' or 'both'.
        now: evaluation time; points after it are ignored.
        name: what to call the value in the message.

    Returns:
        A Finding (kind 'changepoint', labels empty) with every change point's time and
        the medians of the segments before and after the last one.
    """
    t, v = arrays(series, now)
    return changepoint_arrays(t, v, method=method, penalty=penalty, min_shift=min_shift,
                              min_shift_sigma=min_shift_sigma, recent=recent, direction=direction,
                              min_size=min_size, name=name)


def changepoint_arrays(
    t: FloatArray, v: FloatArray, *, method: Method = "auto", penalty: float | None = None, min_shift: float = 0.0,
    min_shift_sigma: float = 3.0, recent: float = 0.25, direction: Direction = "both", min_size: int = 5,
    name: str = "value", labels: dict[str, str] | None = None,
) -> Finding:
    """`changepoint` on (unix seconds, values) arrays already cut at `now`; labels go on the Finding."""
    t, v = drop_nan(t, v)
    found, sigma = _search(v, method, penalty, min_size)
    value = float(v[-1]) if v.size else None
    if not found:
        why = "no data in the window" if not v.size else (
            f"not enough data ({v.size} points, need {2 * min_size})" if v.size < 2 * min_size else "no level shift")
        return Finding("changepoint", dict(labels or {}), "ok", value=value, message=f"{name}: {why}",
                       evidence=LazyEvidence(lambda: {**downsample_arrays(t, v), "change_points": []}))
    last = found[-1]
    start = found[-2] if len(found) > 1 else 0
    before, after = float(bn.median(v[start:last])), float(bn.median(v[last:]))
    shift, need = after - before, max(min_shift, min_shift_sigma * sigma)
    reasons = _reasons(t, last, recent, shift, need, direction)
    times = [to_datetime(t[i]) for i in found]
    sig = f", {abs(shift) / sigma:.1f}σ" if sigma > 0 else ""
    text = (f"{name} shifted {format_value(before)} → {format_value(after)} "
            f"({shift:+.4g}{sig}) at {times[-1].strftime('%Y-%m-%d %H:%M:%SZ')}")
    extra = {"change_points": [float(t[i]) for i in found], "before": before, "after": after, "min_shift": need}
    return Finding("changepoint", dict(labels or {}), "ok" if reasons else "firing", value=value,
                   change_points=times, before=before, after=after, active_since=times[-1],
                   message=f"{text} ({'; '.join(reasons)})" if reasons else text,
                   evidence=LazyEvidence(lambda: {**downsample_arrays(t, v), **extra}))


def _reasons(t: npt.NDArray[np.float64], last: int, recent: float, shift: float, need: float,
             direction: str) -> list[str]:
    """Why a found change does not fire (empty list: it fires)."""
    reasons = []
    if t[last] < t[-1] - recent * (t[-1] - t[0]):
        reasons.append(f"not in the last {recent:.0%} of the window")
    if abs(shift) < need or shift == 0:
        reasons.append(f"smaller than {format_value(need)}")
    if (direction == "up" and shift < 0) or (direction == "down" and shift > 0):
        reasons.append(f"not {direction}")
    return reasons
