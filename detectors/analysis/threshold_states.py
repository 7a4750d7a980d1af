"""The vectorised state machine behind `threshold` and `threshold_matrix`.

See detectors/analysis/threshold.py for the rules. Three equivalent kernels:
`states` works on any rows and timestamps (NaN allowed), `states_uniform` on NaN-free
rows on an even grid (sliding ANDs, no per-cell index arrays), and `states_for_one`
picks the cheapest for a single series (`_states_runs` walks its runs).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from detectors.errors import AnalysisError
from detectors.findings import State

OK, PENDING, FIRING = 0, 1, 2
CODE_STATE: tuple[State, ...] = ("ok", "pending", "firing")


def check_bounds(above: float | None, below: float | None) -> None:
    if above is None and below is None:
        raise AnalysisError("threshold needs 'above' or 'below' (or both)")


def times(values: npt.NDArray[np.float64], step_s: float, t_s: npt.ArrayLike | None) -> npt.NDArray[np.float64]:
    n = np.shape(values)[-1]
    if t_s is None:
        return np.arange(n, dtype=np.float64) * step_s
    t = np.asarray(t_s, dtype=np.float64)
    if t.shape != (n,):
        raise AnalysisError(f"t_s has shape {t.shape}, expected ({n},)")
    return t


def states(
    v: npt.NDArray[np.float64],
    t: npt.NDArray[np.float64],
    above: float | None,
    below: float | None,
    for_s: float,
    clear_after_s: float,
    hysteresis: float,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.intp]]:
    """(state codes, index where the pending/firing breach started or -1) per row."""
    check_bounds(above, below)
    rows, n = v.shape
    if n == 0:
        return np.zeros(rows, np.int8), np.full(rows, -1, np.intp)
    ar = np.arange(n)
    valid = ~np.isnan(v)
    breach, clear = _conditions(v, above, below, hysteresis)
    # NaN carries the previous point's condition so runs go on across gaps.
    last_valid = np.maximum.accumulate(np.where(valid, ar, -1), axis=1)
    filled = last_valid >= 0
    src = np.maximum(last_valid, 0)
    breach_f = np.take_along_axis(breach, src, axis=1) & filled
    clear_f = np.take_along_axis(clear, src, axis=1) & filled
    b_start = _run_starts(breach_f, ar)
    c_start = _run_starts(clear_f, ar)
    onset = breach & (t - t[b_start] >= for_s)
    resolve = clear & (t - t[c_start] >= clear_after_s)
    last_onset = np.where(onset, ar, -1).max(axis=1)
    last_resolve = np.where(resolve, ar, -1).max(axis=1)
    firing = last_onset > last_resolve
    row = np.arange(rows)
    end = last_valid[:, -1]
    pending = ~firing & (end >= 0) & breach[row, np.maximum(end, 0)]
    first_onset = np.argmax(onset & (ar > last_resolve[:, None]), axis=1)
    since = np.where(firing, b_start[row, first_onset], np.where(pending, b_start[row, np.maximum(end, 0)], -1))
    codes = np.where(firing, FIRING, np.where(pending, PENDING, OK)).astype(np.int8)
    return codes, since


def _conditions(
    v: npt.NDArray[np.float64], above: float | None, below: float | None, hysteresis: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(breach, clear) masks; NaN is neither."""
    breach = np.zeros(v.shape, bool)
    clear = ~np.isnan(v)
    if above is not None:
        breach |= v > above
        clear &= v <= above - hysteresis
    if below is not None:
        breach |= v < below
        clear &= v >= below + hysteresis
    return breach, clear


def states_for_one(
    v: npt.NDArray[np.float64],
    t: npt.NDArray[np.float64],
    above: float | None,
    below: float | None,
    for_s: float,
    clear_after_s: float,
    hysteresis: float,
    has_nan: bool | None = None,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.intp]]:
    """`states` for one series, taking the cheaper even-grid path when it applies.

    `has_nan` may pass on what the caller already knows about `v`.
    """
    if has_nan is None:
        has_nan = bool(np.isnan(v).any())
    if t.size > 1 and not has_nan:
        step_s = even_step(t)
        if step_s is not None:
            check_bounds(above, below)
            code, since = _states_runs(v, step_s, above, below, for_s, clear_after_s, hysteresis)
            return np.array([code], np.int8), np.array([since], np.intp)
    return states(v[None, :], t, above, below, for_s, clear_after_s, hysteresis)


def even_step(t: npt.NDArray[np.float64]) -> float | None:
    """The spacing of `t` (2+ stamps) when it is an even grid, up to timestamp rounding; else None.

    Every path decides "even" here, so the per-series and the matrix evaluation pick
    the same kernel for the same timestamps and agree to the last bit.
    """
    gaps = t[1:] - t[:-1]
    first = float(gaps[0])
    # max|gap - first| <= 1e-3, as two reductions (float subtraction is monotonic).
    return first if float(gaps.max()) - first <= 1e-3 and first - float(gaps.min()) <= 1e-3 else None


def _states_runs(
    v: npt.NDArray[np.float64],
    step_s: float,
    above: float | None,
    below: float | None,
    for_s: float,
    clear_after_s: float,
    hysteresis: float,
) -> tuple[int, int]:
    """(code, breach start or -1) of one NaN-free, evenly spaced series, from its runs.

    A replay evaluates one window per tick, so numpy call overhead (a few us each) is
    what costs: this makes one status array (1 breach, -1 clear, 0 neither), finds
    where it changes, and walks the runs back from the end in Python, which usually
    stops at the last run (a long clear one).
    """
    status = _status(v, above, below, hysteresis)
    cuts = (np.flatnonzero(status[1:] != status[:-1]) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, int(v.size)]
    k_for, k_clear = _points(for_s, step_s), _points(clear_after_s, step_s)
    onset_start = -1  # start of the earliest breach run that fires after the last resolution
    for start, end in zip(reversed(starts), reversed(ends)):
        kind = int(status[start])
        if kind == -1 and end - start > k_clear:
            break  # a resolution: nothing before it matters
        if kind == 1 and end - start > k_for:
            onset_start = start
    if onset_start >= 0:
        return FIRING, onset_start
    if status[-1] == 1:
        return PENDING, starts[-1]
    return OK, -1


def _status(
    v: npt.NDArray[np.float64], above: float | None, below: float | None, hysteresis: float
) -> npt.NDArray[np.int8]:
    """1 where NaN-free `v` breaches, -1 where it clears, 0 in the hysteresis band (`_conditions`, 1-D)."""
    breach: npt.NDArray[np.bool_] | None = None
    clear: npt.NDArray[np.bool_] | None = None
    if above is not None:
        breach, clear = v > above, v <= above - hysteresis
    if below is not None:
        low, inside = v < below, v >= below + hysteresis
        breach = low if breach is None else breach | low
        clear = inside if clear is None else clear & inside
    assert breach is not None and clear is not None  # check_bounds ran: one bound is set
    return breach.view(np.int8) - clear.view(np.int8)  # never both: hysteresis >= 0


def states_uniform(
    v: npt.NDArray[np.float64],
    step_s: float,
    above: float | None,
    below: float | None,
    for_s: float,
    clear_after_s: float,
    hysteresis: float,
    since: bool = False,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.intp]]:
    """`states` for NaN-free rows on an even grid, without per-cell index arrays.

    With even spacing "held for for_s" means "the last k points all breach", a sliding
    AND that log2(k) shifted ANDs compute; the rest are reverse argmax scans. The start
    index of the breach is only computed when `since` is asked for.
    """
    breach, clear = _conditions(v, above, below, hysteresis)
    k_for = _points(for_s, step_s)
    onset = _held(breach, k_for)
    resolve = _held(clear, _points(clear_after_s, step_s))
    last_resolve = last_true(resolve)
    firing = last_true(onset) > last_resolve
    pending = ~firing & breach[:, -1]
    codes = np.where(firing, FIRING, np.where(pending, PENDING, OK)).astype(np.int8)
    if not since:
        return codes, np.full(v.shape[0], -1, np.intp)
    # The first onset after the last resolution is k_for points into its breach run.
    first_onset = np.argmax(onset & (np.arange(v.shape[1]) > last_resolve[:, None]), axis=1) - k_for
    run_start = last_true(~breach) + 1
    return codes, np.where(firing, first_onset, np.where(pending, run_start, -1))


def _points(seconds: float, step_s: float) -> int:
    return max(0, math.ceil(seconds / step_s - 1e-9))


def _held(mask: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.bool_]:
    """True where `mask` holds at this point and the k points before it."""
    out = mask.copy()
    width = 1
    while width < k + 1:
        shift = min(width, k + 1 - width)
        out[:, shift:] &= out[:, :-shift]  # numpy buffers the overlapping operands
        out[:, :shift] = False  # the run cannot have begun before the window
        width += shift
    return out


def last_true(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """Column of the last True per row, -1 if none."""
    n = mask.shape[1]
    rev = mask[:, ::-1].argmax(axis=1)
    found = mask[np.arange(mask.shape[0]), n - 1 - rev]
    return np.where(found, n - 1 - rev, -1)


def _run_starts(mask: npt.NDArray[np.bool_], ar: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """For each True cell, the column where its run of Trues began (0 elsewhere, unused)."""
    starts = mask.copy()
    starts[:, 1:] &= ~mask[:, :-1]
    return np.maximum.accumulate(np.where(starts, ar, 0), axis=1)
