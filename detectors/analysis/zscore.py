"""Robust rolling z-score: (x - rolling median) / (1.4826 * rolling MAD).

The baseline for point i is the median and MAD of the `window_points` points before
it (the point being judged is left out, so a spike cannot hide itself). The MAD is the
rolling median of |x - rolling median|, a cheap, bottleneck-backed stand-in for the
exact windowed MAD. When the MAD is 0 (quantised or flat data) the scale falls back to
1.2533 * mean absolute deviation, and finally to a floor of 1e-6 of the series' largest
magnitude, so a flat series that moves gives a large but finite z.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import bottleneck as bn
import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.analysis.threshold_states import CODE_STATE, FIRING, OK
from detectors.errors import AnalysisError
from detectors.findings import Finding, LazyEvidence, format_value
from detectors.series import FloatArray, arrays, downsample_arrays, drop_nan, to_datetime

Direction = Literal["up", "down", "both"]
MAD_SCALE = 1.4826
MEAN_AD_SCALE = 1.2533


def robust_z(values: npt.ArrayLike, *, window_points: int = 60, min_history: int = 30) -> npt.NDArray[np.float64]:
    """Robust z of every point against the window before it.

    Args:
        values: shape (n_points,) or (n_series, n_points); NaN allowed.
        window_points: how many preceding points form the baseline.
        min_history: fewer valid points before a point than this -> its z is NaN.

    Returns:
        float64 array of the input's shape (2-D input) or (n_points,).

    Raises:
        AnalysisError: window_points or min_history below 2.
    """
    v = np.asarray(values, dtype=np.float64)
    z = z_rows(np.atleast_2d(v), window_points, min_history)
    return z if v.ndim == 2 else z[0]


def zscore_matrix(
    values: npt.ArrayLike,
    *,
    threshold: float = 4.0,
    window_points: int = 60,
    min_history: int = 30,
    direction: Direction = "both",
) -> npt.NDArray[np.int8]:
    """State codes (0 ok, 2 firing) of many series, judged at their last point.

    Only the tail the last point's baseline depends on (2 windows) is computed, which
    gives the same z as `robust_z` on the whole row when the row has no NaN.

    Args:
        values: shape (n_series, n_points).
        threshold, window_points, min_history, direction: as in `zscore`.

    Returns:
        int8 array of shape (n_series,); a series without enough history is 0.
    """
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if v.shape[1] == 0:
        return np.zeros(v.shape[0], np.int8)
    history = np.count_nonzero(~np.isnan(v[:, :-1]), axis=1)
    tail = v[:, -(2 * window_points + 1) :]
    z = z_rows(tail, window_points, min(min_history, window_points))[:, -1]
    z = np.where(history >= min_history, z, np.nan)
    return np.where(_beyond(z, threshold, direction), FIRING, OK).astype(np.int8)


def zscore(
    series: pd.Series,
    *,
    threshold: float = 4.0,
    window_points: int = 60,
    min_history: int = 30,
    direction: Direction = "both",
    now: datetime | None = None,
    name: str = "value",
) -> Finding:
    """Judge the latest point of `series` by its robust z-score.

    NaN points are dropped first: the window counts real observations.

    Args:
        series: float values on a UTC DatetimeIndex.
        threshold: |z| at or beyond this fires.
        window_points: baseline length in points.
        min_history: points needed before the latest one; with fewer the finding is ok
            and says so (never an exception, so a young series does not break a job).
        direction: 'up' fires only above the baseline, 'down' only below, 'both' either.
        now: evaluation time; points after it are ignored.
        name: what to call the value in the message.

    Returns:
        A Finding (kind 'zscore', labels empty): value = latest value, threshold = the z
        limit, before = baseline median, active_since = start of the anomalous run.
    """
    t, v = arrays(series, now)
    return zscore_arrays(
        t, v, threshold=threshold, window_points=window_points, min_history=min_history, direction=direction, name=name
    )


def zscore_arrays(
    t: FloatArray,
    v: FloatArray,
    *,
    threshold: float = 4.0,
    window_points: int = 60,
    min_history: int = 30,
    direction: Direction = "both",
    name: str = "value",
    labels: dict[str, str] | None = None,
) -> Finding:
    """`zscore` on (unix seconds, values) arrays already cut at `now`; labels go on the Finding."""
    t, v = drop_nan(t, v)
    if v.size <= min_history:
        why = f"not enough data ({v.size} points, need {min_history + 1})" if v.size else "no data in the window"
        return Finding(
            "zscore",
            dict(labels or {}),
            "ok",
            value=float(v[-1]) if v.size else None,
            threshold=threshold,
            message=f"{name}: {why}",
        )
    z = z_rows(v[None, :], window_points, min_history)[0]
    return zscore_finding(
        t, v, z, threshold=threshold, window_points=window_points, direction=direction, name=name, labels=labels
    )


def zscore_finding(
    t: FloatArray,
    v: FloatArray,
    z: FloatArray,
    *,
    threshold: float,
    window_points: int,
    direction: str,
    name: str,
    labels: dict[str, str] | None,
) -> Finding:
    """The Finding for NaN-free points `v` (more than min_history) whose z-scores are `z`.

    Shared by `zscore_arrays` and the matrix path, which computes `z` for many rows at once.
    """
    hit = _beyond(z, threshold, direction)
    state = CODE_STATE[FIRING if hit[-1] else OK]
    base = float(bn.median(v[-window_points - 1 : -1]))
    active = None
    if hit[-1]:
        calm = np.flatnonzero(~hit)
        active = to_datetime(t[calm[-1] + 1 if calm.size else 0])
    z_last = float(z[-1])
    word = "above" if z_last >= 0 else "below"
    message = (
        f"{name} {format_value(v[-1])} is {abs(z_last):.1f}σ {word} its rolling median "
        f"{format_value(base)} (fires at {threshold:g}σ)"
    )
    extra = {"z_threshold": threshold, "baseline": base, "z": z_last}
    return Finding(
        "zscore",
        dict(labels or {}),
        state,
        value=float(v[-1]),
        threshold=threshold,
        before=base,
        active_since=active,
        message=message,
        evidence=LazyEvidence(lambda: {**downsample_arrays(t, v), **extra}),
    )


def _beyond(z: npt.NDArray[np.float64], threshold: float, direction: str) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):  # NaN z (no baseline) compares False, as wanted
        if direction == "up":
            return z >= threshold
        if direction == "down":
            return z <= -threshold
        return np.abs(z) >= threshold


def z_rows(v: npt.NDArray[np.float64], window: int, min_history: int) -> npt.NDArray[np.float64]:
    """Robust z of every point of every row (rows are independent: a row's z does not depend on the others)."""
    if window < 2 or min_history < 2:
        raise AnalysisError(f"window_points and min_history must be >= 2, got {window} and {min_history}")
    rows, n = v.shape
    if n < 2:
        return np.full(v.shape, np.nan)
    window = min(window, n)  # bottleneck refuses windows longer than the data
    count = min(min_history, window)
    med = bn.move_median(v, window, min_count=count, axis=1)
    dev = np.abs(v - med)
    mad = bn.move_median(dev, window, min_count=count, axis=1)
    mean_ad = bn.move_mean(dev, window, min_count=count, axis=1)
    scale = MAD_SCALE * mad
    scale = np.where(scale > 0, scale, MEAN_AD_SCALE * mean_ad)
    peak = bn.nanmax(np.abs(v), axis=1) if n else np.zeros(rows)
    # What np.nan_to_num(peak) gives (NaN -> 0, inf -> largest float), without its ~40 us of Python.
    peak = np.where(np.isnan(peak), 0.0, np.minimum(peak, np.finfo(np.float64).max))
    floor = np.maximum(1e-6 * peak, 1e-12)[:, None]
    scale = np.maximum(scale, floor)
    z = np.full(v.shape, np.nan)
    # Point i is judged against the window that ended at i-1.
    z[:, 1:] = (v[:, 1:] - med[:, :-1]) / scale[:, :-1]
    history = np.cumsum(~np.isnan(v), axis=1) - 1
    z[history < min_history] = np.nan
    return z
