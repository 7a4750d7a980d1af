"""One change point per series, for thousands of series at once.

`jump_scan` finds, in every row of a (series x points) matrix on a shared time grid, the
point where the level jumps most sharply compared with how the row usually moves: the
difference of the means of w points after and before each position, from one prefix
sum per row (O(n) per series and width, every row in the same numpy calls), averaged
over several widths in the row's own units. Spikes are clipped first so a lone outlier
cannot pass for a short new regime.

The noise unit reported with each row (for effect sizes) is robust: the MAD of first
differences scaled to a standard deviation (a step moves one difference, a spike two).
"""

from __future__ import annotations

from dataclasses import dataclass

import bottleneck as bn
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

MAD_SCALE = 1.4826
WIDTHS = (6, 12, 24, 40)
"""Window lengths (points) either side of a candidate step that jump_scan compares."""
SPIKE_SIGMA = 4.0
"""Points further than this many noise sigmas from their 5-point median are clipped to it:
a lone outlier must not pass for a short new regime."""


@dataclass(frozen=True)
class Steps:
    """The best step of every row (arrays of one value per row).

    Attributes:
        k: index of the first point of the new level.
        delta: the step's size (mean after minus mean before, over the widest window that
            fits, net of the row's usual local change), in the series' units.
        z: the jump in units of the row's typical local change (see jump_scan): how sure it is.
        noise: the row's noise sigma (see the module docstring); 0 for a constant row.
    """

    k: IntArray
    delta: FloatArray
    z: FloatArray
    noise: FloatArray


def fill_gaps(x: FloatArray) -> FloatArray:
    """Each NaN replaced by the previous finite value of its row (the next one at the start).

    A row without any finite value stays NaN.
    """
    valid = np.isfinite(x)
    if valid.all():
        return x
    n = x.shape[1]
    idx = np.where(valid, np.arange(n), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    out = np.take_along_axis(x, idx, axis=1)
    first = np.where(valid.any(axis=1), valid.argmax(axis=1), 0)
    lead = np.arange(n) < first[:, None]  # before a row's first finite point: use that point
    out[lead] = np.broadcast_to(x[np.arange(x.shape[0]), first][:, None], out.shape)[lead]
    return out


def diff_noise(x: FloatArray) -> FloatArray:
    """Per row, the robust noise sigma from the MAD of first differences (0 when constant)."""
    d = np.diff(x, axis=1)
    med = bn.median(d, axis=1)
    sigma: FloatArray = MAD_SCALE * bn.median(np.abs(d - med[:, None]), axis=1) / np.sqrt(2.0)
    # Quantised or mostly flat rows have a MAD of 0: fall back on the plain spread.
    flat = sigma <= 0
    if flat.any():
        sigma[flat] = np.std(d[flat], axis=1) / np.sqrt(2.0)
    return sigma


def clip_spikes(x: FloatArray, sigma: FloatArray) -> FloatArray:
    """x with every point pulled to within SPIKE_SIGMA noise sigmas of its centred 5-point median."""
    if x.shape[1] < 5:
        return x
    med = np.empty_like(x)
    trailing = bn.move_median(x, 5, min_count=1, axis=1)
    med[:, :-2] = trailing[:, 2:]  # the median of x[i-2..i+2] ends at i+2
    med[:, -2:] = trailing[:, -1:]  # the last two points have no full centred window
    bound = (SPIKE_SIGMA * sigma)[:, None]
    clipped: FloatArray = np.clip(x, med - bound, med + bound)
    return clipped


def jump_scan(x: FloatArray, *, widths: tuple[int, ...] = WIDTHS) -> Steps:
    """The sharpest jump of every row, judged against the row's own local jumps.

    For each width w and position k, D_k = mean(x[k:k+w]) - mean(x[k-w:k]) (from one
    prefix sum per row); a step makes |D| peak at its first point, at every width. D of
    a trend is a constant, and of a swing or a wandering series a slow, wide variation:
    so each row's D is centred on its median over all positions and divided by its
    robust spread there (MAD), which puts it in units of the row's own typical local
    change, whatever its shape. The z-profiles of all widths are averaged, signed: a
    real step peaks at the same k with the same sign at every width, while chance
    excursions of different widths rarely line up. Near the ends only the widths that
    fit are averaged.
    """
    rows, n = x.shape
    sigma = diff_noise(x)
    x = clip_spikes(x, sigma)
    prefix = np.zeros((rows, n + 1))
    np.cumsum(x, axis=1, out=prefix[:, 1:])
    total = np.zeros((rows, n))  # by k; 0 and n never hold a step
    count = np.zeros(n)
    widest = np.full((rows, n), np.nan)  # D of the widest width that fits, for the step's size
    for w in widths:
        if n < 4 * w:
            continue
        at = slice(w, n - w + 1)  # candidate steps k = w .. n - w; slices, not index arrays: no copies
        d = prefix[:, 2 * w :] - 2 * prefix[:, at] + prefix[:, : n - 2 * w + 1]
        d /= w
        d -= bn.median(d, axis=1)[:, None]
        spread = np.maximum(MAD_SCALE * bn.median(np.abs(d), axis=1), sigma * np.sqrt(2.0 / w))
        inverse = np.divide(1.0, spread, out=np.zeros_like(spread), where=spread > 0)
        widest[:, at] = d
        d *= inverse[:, None]
        total[:, at] += d
        count[at] += 1
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.abs(total) / np.where(count > 0, count, np.inf)
    at = mean.argmax(axis=1)
    z = mean[np.arange(rows), at]
    delta = np.nan_to_num(widest[np.arange(rows), at])
    return Steps(k=at.astype(np.intp), delta=delta, z=z, noise=sigma)
