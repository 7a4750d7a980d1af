"""`auto`: an anomaly score that sets itself up from the series' own history.

Each run, on the trailing window only:

1. Baseline. The points go on their own even time grid, and three baselines predict
   each point: the rolling median of the preceding points (`local_points`), and, when
   the window holds two days (two weeks) of them, the median of the same time of day
   (of week) on up to three previous days (weeks). The seasonal one is used only when
   its residuals are clearly smaller (robust scale below `SEASONAL_GAIN` times the
   local one's), so a routine daily peak is predicted, not flagged.
2. Score at several time scales. The residuals, and their moving means over
   `SCALES` points (a level shift or a drift too small to see in one point shows in
   a mean), are turned into robust z-scores against the history part of the window
   (all but its most recent `hold` fraction): median and MAD, so past incidents do
   not inflate the scale. Two more signals are scored the same way: the moving mean
   of |residual| over `VOLATILITY_SCALE` points (a burst of swings both ways, whose
   plain mean stays near 0), and the residual against a slow rolling median of
   `slow_points` points, averaged over a quarter of that (a shift that lasts longer
   than the local median takes to absorb it, e.g. a day-long drop).
3. Adaptive threshold. A signal fires when a recent z passes both `threshold` and
   `margin` times the `peak_quantile` quantile of the history's |z| for that signal:
   what happens every week does not fire, and a noisy series needs a larger excursion
   than a quiet one. A quantile just below 1 rather than the maximum keeps a single
   extreme point of the past week from masking every later incident.
4. Effect size. A z-score alone flags tiny moves on a quiet series, so a firing
   scale's residual mean must also reach `min_effect` times the typical range of the
   history's values (5th to 95th percentile): a move must matter next to what the
   series itself spans. With `agree` > 1 that many time scales must fire together.
5. Hold. The finding stays firing while an anomalous point lies in the most recent
   `hold` fraction of the window, so one incident is one alert rather than a flapping
   one; and because an incident's z then sits in the history, the next excursion must
   beat it before the series can alert again (per-series re-alert suppression).

A series with fewer than `min_history` points is 'ok' (warm-up) and says so.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

import bottleneck as bn
import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.errors import AnalysisError
from detectors.findings import Finding, LazyEvidence, format_value
from detectors.series import FloatArray, arrays, downsample_arrays, drop_nan, to_datetime

Seasonality = Literal["auto", "none", "daily", "weekly"]
Direction = Literal["up", "down", "both"]

DAY_S = 86400.0
MAD_SCALE = 1.4826
SCALES = (1, 6, 24)
"""Moving-mean lengths (points) the residual is scored at: a spike, a shift, a drift."""
SEASONAL_GAIN = 0.8
"""A seasonal baseline must cut the residuals' robust scale to below this fraction of the local one's."""
SEASONS_BACK = 3
"""How many previous days (weeks) the seasonal baseline takes the median of."""
VOLATILITY_SCALE = 6
"""Moving-mean length (points) of |residual|: alternating swings that cancel out in a plain mean."""
PEAK_QUANTILE = 0.99
"""Default quantile of the history's |z| a recent z must beat (times `margin`); taken as the
order statistic at or below it: a week of 5-minute points drops its 20 largest |z|, so one past
incident (tens of points) raises the bar less than its peak would, and the next can still fire."""
SLOW_POINTS = 576
"""Default length of the slow rolling median (two days of 5-minute points); 0 turns it off."""
_TINY = 1e-9
"""A MAD below this fraction of the largest deviation is rounding noise (bottleneck's running
sums leave ~1e-15 where a moving mean of zeros should be 0), not a scale."""
_MAX_GRID_FACTOR = 4
"""A grid longer than this many times the point count (sparse, gappy data) is not built."""


def auto(
    series: pd.Series,
    *,
    threshold: float = 4.0,
    margin: float = 1.5,
    hold: float = 0.1,
    seasonality: Seasonality = "auto",
    direction: Direction = "both",
    local_points: int = 72,
    min_history: int = 30,
    agree: int = 2,
    min_effect: float = 0.7,
    peak_quantile: float = PEAK_QUANTILE,
    slow_points: int = SLOW_POINTS,
    now: datetime | None = None,
    name: str = "value",
) -> Finding:
    """Judge the recent part of `series` against a baseline learnt from the rest of the window.

    Args:
        series: float values on a UTC DatetimeIndex (NaN allowed).
        threshold: the smallest robust z that can fire.
        margin: a recent z must also reach `margin` times the largest |z| of the window's
            history (at the same time scale).
        hold: the recent fraction of the window (0 < hold < 0.5) where an anomalous point
            keeps the finding firing; the rest is the history the scale is learnt from.
        seasonality: 'auto' (pick none, daily or weekly from the data), or force one.
        direction: 'up', 'down' or 'both'.
        local_points: the rolling median's length for the non-seasonal baseline.
        min_history: points needed before anything can fire (warm-up).
        agree: how many of the signals (residual over 1, 6, 24 points, volatility, slow
            baseline) must fire together.
        min_effect: a firing scale's residual mean must also reach this fraction of the
            history's typical range (5th to 95th percentile); 0 turns the floor off.
        peak_quantile: which quantile of the history's |z| (0 < q <= 1; 1 = the largest)
            `margin` applies to.
        slow_points: the slow rolling median's length (0 turns that signal off).
        now: evaluation time; points after it are ignored.
        name: what to call the value in the message.

    Returns:
        A Finding (kind 'auto', labels empty): value = latest value, threshold = the
        z the recent points had to reach, before = the baseline's prediction of the
        latest point, active_since = the first anomalous point still held.

    Raises:
        AnalysisError: an option out of range.
    """
    t, v = arrays(series, now)
    return auto_arrays(
        t,
        v,
        threshold=threshold,
        margin=margin,
        hold=hold,
        seasonality=seasonality,
        direction=direction,
        local_points=local_points,
        min_history=min_history,
        agree=agree,
        min_effect=min_effect,
        peak_quantile=peak_quantile,
        slow_points=slow_points,
        name=name,
    )


def auto_arrays(
    t: FloatArray,
    v: FloatArray,
    *,
    threshold: float = 4.0,
    margin: float = 1.5,
    hold: float = 0.1,
    seasonality: Seasonality = "auto",
    direction: Direction = "both",
    local_points: int = 72,
    min_history: int = 30,
    agree: int = 2,
    min_effect: float = 0.7,
    peak_quantile: float = PEAK_QUANTILE,
    slow_points: int = SLOW_POINTS,
    name: str = "value",
    labels: dict[str, str] | None = None,
) -> Finding:
    """`auto` on (unix seconds, values) arrays already cut at `now`; labels go on the Finding."""
    _check(threshold, margin, hold, seasonality, direction, local_points, min_history)
    if min_effect < 0:
        raise AnalysisError(f"min_effect must be >= 0, got {min_effect}")
    if not 0 < peak_quantile <= 1 or slow_points < 0:
        raise AnalysisError(
            f"peak_quantile must be in (0, 1] and slow_points >= 0, got {peak_quantile} and {slow_points}"
        )
    t, v = drop_nan(t, v)
    if v.size < max(min_history, 8):
        needed = max(min_history, 8)
        why = f"warming up: {v.size} of {needed} points ({_span(t)} of history)" if v.size else "no data in the window"
        return Finding(
            "auto",
            dict(labels or {}),
            "ok",
            value=float(v[-1]) if v.size else None,
            threshold=threshold,
            message=f"{name}: {why}",
        )
    g_t, g = _grid(t, v)
    model, pred = baseline(g, float(g_t[1] - g_t[0]) if g_t.size > 1 else 1.0, seasonality, local_points)
    n = g.size
    recent = max(1, int(hold * n))
    floor = min_effect * _spread(g[: n - recent])
    best_z, best_at, need, agreeing = 0.0, -1, threshold, 0
    r = g - pred
    for signal, scale, way in _signals(g, r, slow_points, direction):
        if scale > 1 and scale * 4 > n - recent:
            continue
        z, limit = _scored(signal, scale, recent, threshold, margin, peak_quantile)
        hit = _beyond(z[n - recent :], limit, way)
        if floor > 0:
            hit &= _large(_smooth(signal, scale)[n - recent :], floor)
        if hit.any():
            agreeing += 1
            at = n - recent + int(np.flatnonzero(hit)[0])
            if best_at < 0 or at < best_at:
                best_z, best_at, need = float(z[at]), at, limit
        elif best_at < 0 and scale == 1 and np.isfinite(z[-1]):
            best_z, need = float(z[-1]), limit
    if agreeing < agree:
        best_at = -1
    return _finding(t, v, g_t, pred, model, best_z, best_at, need, name, labels)


def _span(t: FloatArray) -> str:
    """How much time the points cover, for the warm-up message ('2h 5m', '45s')."""
    s = int(t[-1] - t[0]) if t.size > 1 else 0
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    parts = [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    return " ".join(parts[:2]) or f"{s}s"


def baseline(g: FloatArray, step_s: float, seasonality: str, local_points: int) -> tuple[str, FloatArray]:
    """(model name, prediction of every grid point from earlier points only).

    Args:
        g: values on an even grid (NaN where no point).
        step_s: the grid step.
        seasonality: 'auto', 'none', 'daily' or 'weekly'.
        local_points: the rolling median's length.
    """
    n = g.size
    local = _rolling_median(g, local_points)
    if seasonality == "none":
        return "local", local
    candidates = [("local", local)]
    for model, period_s in (("daily", DAY_S), ("weekly", 7 * DAY_S)):
        period = int(round(period_s / step_s))
        if seasonality in ("auto", model) and period >= 6 and n >= 2 * period:
            candidates.append((model, _seasonal(g, period)))
    if seasonality != "auto":
        return candidates[-1]
    support = np.ones(n, bool)
    for _, p in candidates:
        support &= ~np.isnan(p)
    support &= ~np.isnan(g)
    best, best_scale = candidates[0], _scale(g[support] - local[support])
    for model, p in candidates[1:]:
        scale = _scale(g[support] - p[support])
        if scale < SEASONAL_GAIN * best_scale:
            best, best_scale = (model, p), scale
    return best


def _signals(g: FloatArray, r: FloatArray, slow_points: int, direction: str) -> list[tuple[FloatArray, int, str]]:
    """(signal, moving-mean length, direction) to score: the residuals at each of `SCALES`,
    their volatility (only when both directions are watched: |residual| cannot tell a rise
    from a fall), and the residuals against the slow rolling median; `agree` counts them all."""
    out = [(r, scale, direction) for scale in SCALES]
    if direction == "both":
        out.append((np.abs(r), VOLATILITY_SCALE, "up"))
    if slow_points >= 2:
        out.append((g - _rolling_median(g, slow_points), max(2, slow_points // 4), direction))
    return out


def _rolling_median(g: FloatArray, points: int) -> FloatArray:
    """Each grid point's prediction from the median of up to `points` preceding points."""
    n = g.size
    m = max(2, min(points, n - 1))
    out = np.full(n, np.nan)
    out[1:] = bn.move_median(g, m, min_count=max(1, m // 2))[:-1]
    return out


def _seasonal(g: FloatArray, period: int) -> FloatArray:
    n = g.size
    back = np.full((SEASONS_BACK, n), np.nan)
    for k in range(1, SEASONS_BACK + 1):
        if k * period < n:
            back[k - 1, k * period :] = g[: n - k * period]
    out: FloatArray = bn.nanmedian(back, axis=0)
    return out


def _smooth(r: FloatArray, scale: int) -> FloatArray:
    """The residuals' moving mean over `scale` points (themselves at scale 1)."""
    return bn.move_mean(r, scale, min_count=max(1, scale // 2)) if scale > 1 else r


def _spread(x: FloatArray) -> float:
    """The typical range of the values: the 5th to the 95th percentile (0 when too few)."""
    x = x[~np.isnan(x)]
    if x.size < 8:
        return 0.0
    low, high = np.percentile(x, [5.0, 95.0])
    return float(high - low)


def _large(effect: FloatArray, floor: float) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        return np.abs(effect) >= floor


def _scored(
    r: FloatArray, scale: int, recent: int, threshold: float, margin: float, peak_quantile: float
) -> tuple[FloatArray, float]:
    """(robust z of the signal's moving mean, the limit recent z must reach)."""
    n = r.size
    smooth = _smooth(r, scale)
    history = smooth[: n - recent]
    history = history[~np.isnan(history)]
    if history.size < 8:
        return np.full(n, np.nan), math.inf
    centre = float(bn.median(history))
    spread = _scale(history, centre)
    if spread <= 0:
        return np.full(n, np.nan), math.inf
    z = (smooth - centre) / spread
    past = np.abs(z[: n - recent][~np.isnan(z[: n - recent])])
    peak = float(np.max(past)) if peak_quantile >= 1 else float(np.quantile(past, peak_quantile, method="lower"))
    return z, max(threshold, margin * peak)


def _scale(x: FloatArray, centre: float | None = None) -> float:
    """Robust standard deviation (MAD-based; the plain one when most values are equal)."""
    if x.size < 2:
        return 0.0
    c = float(bn.median(x)) if centre is None else centre
    dev = np.abs(x - c)
    mad = MAD_SCALE * float(bn.median(dev))
    # A sparse series (mostly zeros, rare spikes) has a MAD of 0, or of rounding noise once
    # smoothed; z against that would be ~1e16 and compare at random.
    return mad if mad > _TINY * float(np.max(dev)) else float(np.std(x))


def _beyond(z: FloatArray, limit: float, direction: str) -> npt.NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):  # NaN z (no baseline) compares False, as wanted
        if direction == "up":
            return z >= limit
        if direction == "down":
            return z <= -limit
        return np.abs(z) >= limit


def _grid(t: FloatArray, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The points on an even grid of their median step (NaN where none); as they are when too gappy."""
    if t.size < 3:
        return t, v
    step = float(np.median(np.diff(t)))
    if step <= 0:
        return t, v
    idx = np.rint((t - t[0]) / step).astype(np.int64)
    size = int(idx.max()) + 1
    if size > _MAX_GRID_FACTOR * t.size:
        return t, v
    g = np.full(size, np.nan)
    g[idx] = v  # two points in one cell: the later one wins
    return t[0] + step * np.arange(size), g


def _finding(
    t: FloatArray,
    v: FloatArray,
    g_t: FloatArray,
    pred: FloatArray,
    model: str,
    z: float,
    at: int,
    need: float,
    name: str,
    labels: dict[str, str] | None,
) -> Finding:
    firing = at >= 0
    expected = float(pred[-1]) if np.isfinite(pred[-1]) else None
    word = "above" if z >= 0 else "below"
    base = f"its {model} baseline" + (f" {format_value(expected)}" if expected is not None else "")
    if firing:
        message = (
            f"{name} {format_value(v[-1])}: {abs(z):.1f}σ {word} {base} since "
            f"{to_datetime(g_t[at]).strftime('%Y-%m-%d %H:%M:%SZ')} (fires at {need:.3g}σ)"
        )
    else:
        message = f"{name} {format_value(v[-1])} is within {base} ({abs(z):.1f}σ, fires at {need:.3g}σ)"
    extra = {"model": model, "z": z, "z_threshold": need}
    return Finding(
        "auto",
        dict(labels or {}),
        "firing" if firing else "ok",
        value=float(v[-1]),
        threshold=need if math.isfinite(need) else None,
        before=expected,
        active_since=to_datetime(g_t[at]) if firing else None,
        message=message,
        evidence=LazyEvidence(lambda: {**downsample_arrays(t, v), **extra}),
    )


def _check(
    threshold: float, margin: float, hold: float, seasonality: str, direction: str, local_points: int, min_history: int
) -> None:
    if threshold <= 0 or margin < 0:
        raise AnalysisError(f"threshold must be > 0 and margin >= 0, got {threshold} and {margin}")
    if not 0 < hold < 0.5:
        raise AnalysisError(f"hold must be a fraction of the window in (0, 0.5), got {hold}")
    if seasonality not in ("auto", "none", "daily", "weekly"):
        raise AnalysisError(f"unknown seasonality {seasonality!r} (auto, none, daily, weekly)")
    if direction not in ("up", "down", "both"):
        raise AnalysisError(f"unknown direction {direction!r} (up, down, both)")
    if local_points < 2 or min_history < 2:
        raise AnalysisError(f"local_points and min_history must be >= 2, got {local_points} and {min_history}")
