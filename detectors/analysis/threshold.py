"""Static thresholds with `for`, hysteresis and `clear_after`, computed from the window.

The state at the last point is what a point-by-point state machine would reach after
walking the whole window from 'ok':

* a point *breaches* when it is above `above` or below `below`;
* an *onset* is a breaching point whose breach run (consecutive breaching points) has
  lasted at least `for_s` -> the alert fires;
* a point *clears* when it is back inside the bounds by `hysteresis`
  (value <= above - hysteresis and value >= below + hysteresis); values between the
  bound and the hysteresis band neither breach nor clear;
* a *resolution* is a clearing point whose clear run has lasted at least `clear_after_s`.

Onsets and resolutions are exclusive, and each sets the state outright (an onset while
firing changes nothing, a resolution while ok changes nothing), so the final state is
'firing' exactly when the latest event in the window is an onset. NaN points neither
breach nor clear: runs continue across them. That turns a sequential state machine
into a handful of vectorised passes, which is what makes `threshold_matrix` fast.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.analysis.threshold_states import (
    CODE_STATE,
    FIRING,
    OK,
    PENDING,
    check_bounds,
    states,
    states_for_one,
    states_uniform,
    times,
)
from detectors.findings import Finding, LazyEvidence, format_duration, format_value
from detectors.series import FloatArray, arrays, downsample_arrays, to_datetime

__all__ = [
    "CODE_STATE",
    "FIRING",
    "OK",
    "PENDING",
    "threshold",
    "threshold_arrays",
    "threshold_finding",
    "threshold_matrix",
]


def threshold_matrix(
    values: npt.ArrayLike,
    *,
    above: float | None = None,
    below: float | None = None,
    for_s: float = 0.0,
    clear_after_s: float = 0.0,
    hysteresis: float = 0.0,
    step_s: float = 1.0,
    t_s: npt.ArrayLike | None = None,
) -> npt.NDArray[np.int8]:
    """State codes (0 ok, 1 pending, 2 firing) of many series sharing one time axis.

    Args:
        values: shape (n_series, n_points), NaN for missing points.
        above: breach when a value is strictly above this.
        below: breach when a value is strictly below this.
        for_s: how long a breach must hold before firing.
        clear_after_s: how long values must be back in bounds before resolving.
        hysteresis: how far back inside the bound a value must be to count as clear.
        step_s: spacing of points in seconds, used when `t_s` is None.
        t_s: the shared timestamps in seconds (any origin), length n_points.

    Returns:
        int8 array of shape (n_series,).

    Raises:
        AnalysisError: no bound given, or shapes disagree.
    """
    v = np.atleast_2d(np.asarray(values, dtype=np.float64))
    check_bounds(above, below)
    if t_s is None and v.shape[1] > 0 and step_s > 0 and not np.isnan(v).any():
        return states_uniform(v, step_s, above, below, for_s, clear_after_s, hysteresis)[0]
    codes, _ = states(v, times(v, step_s, t_s), above, below, for_s, clear_after_s, hysteresis)
    return codes


def threshold(
    series: pd.Series,
    *,
    above: float | None = None,
    below: float | None = None,
    for_s: float = 0.0,
    clear_after_s: float = 0.0,
    hysteresis: float = 0.0,
    now: datetime | None = None,
    name: str = "value",
) -> Finding:
    """Evaluate a threshold over the window and describe the state at its last point.

    Args:
        series: float values on a UTC DatetimeIndex (see LabelledSeries).
        above, below, for_s, clear_after_s, hysteresis: as in `threshold_matrix`.
        now: evaluation time; points after it are ignored.
        name: what to call the value in the message (e.g. the metric name).

    Returns:
        A Finding (kind 'threshold', labels empty) whose `active_since` is the start of
        the breach that is pending or firing.

    Raises:
        AnalysisError: neither `above` nor `below` given.
    """
    t, v = arrays(series, now)
    return threshold_arrays(
        t, v, above=above, below=below, for_s=for_s, clear_after_s=clear_after_s, hysteresis=hysteresis, name=name
    )


def threshold_arrays(
    t: FloatArray,
    v: FloatArray,
    *,
    above: float | None = None,
    below: float | None = None,
    for_s: float = 0.0,
    clear_after_s: float = 0.0,
    hysteresis: float = 0.0,
    name: str = "value",
    labels: dict[str, str] | None = None,
) -> Finding:
    """`threshold` on (unix seconds, values) arrays already cut at `now`; labels go on the Finding."""
    nan = np.isnan(v)
    has_nan = bool(nan.any())
    if not v.size or (has_nan and bool(nan.all())):
        check_bounds(above, below)
        return Finding(
            "threshold",
            dict(labels or {}),
            "ok",
            threshold=above if above is not None else below,
            message=f"{name}: no data in the window",
        )
    codes, since = states_for_one(v, t, above, below, for_s, clear_after_s, hysteresis, has_nan=has_nan)
    value = float(v[~nan][-1]) if has_nan else float(v[-1])
    return threshold_finding(
        t,
        v,
        int(codes[0]),
        float(t[since[0]]) if since[0] >= 0 else None,
        value,
        above=above,
        below=below,
        for_s=for_s,
        hysteresis=hysteresis,
        name=name,
        labels=labels,
    )


def threshold_finding(
    t: FloatArray,
    v: FloatArray,
    code: int,
    since_s: float | None,
    value: float,
    *,
    above: float | None,
    below: float | None,
    for_s: float,
    hysteresis: float,
    name: str,
    labels: dict[str, str] | None,
) -> Finding:
    """The Finding for a series whose state is known (shared by the per-series and matrix paths).

    Args:
        t, v: the series' own points up to `now` (evidence, and t[-1] for how long).
        code: OK, PENDING or FIRING.
        since_s: when the pending or firing breach began, None when ok.
        value: the latest non-NaN value.
    """
    state = CODE_STATE[code]
    bound = above if above is not None else below
    if above is not None and below is not None:
        bound = above if value > (above + below) / 2 else below
    held = float(t[-1]) - since_s if since_s is not None else 0.0
    extra = {"above": above, "below": below, "hysteresis": hysteresis}
    return Finding(
        "threshold",
        dict(labels or {}),
        state,
        value=value,
        threshold=bound,
        active_since=to_datetime(since_s) if since_s is not None else None,
        message=_message(name, state, value, above, below, held, for_s),
        evidence=LazyEvidence(lambda: {**downsample_arrays(t, v), **extra}),
    )


def _message(
    name: str, state: str, value: float, above: float | None, below: float | None, held_s: float, for_s: float
) -> str:
    if state == "ok":
        limits = " or ".join(f"{o} {format_value(b)}" for o, b in ((">", above), ("<", below)) if b is not None)
        return f"{name} {format_value(value)} ok (alerts when {limits})"
    if above is not None and value > above:
        text = f"{name} {format_value(value)} > {format_value(above)} for {format_duration(held_s)}"
    elif below is not None and value < below:
        text = f"{name} {format_value(value)} < {format_value(below)} for {format_duration(held_s)}"
    else:  # firing, back inside the bounds but not yet clear for long enough
        return f"{name} {format_value(value)} back within bounds, firing until clear (breach began {format_duration(held_s)} ago)"
    if state == "pending":
        return f"{text} (pending, fires after {format_duration(for_s)})"
    return text
