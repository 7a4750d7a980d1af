"""Synthetic incidents for the diagnosis ranking (bench/bench_diagnosis.py, its unit test).

An incident is a (signals x points) matrix on a 15 s grid with an alert starting
`after_points` before the end. Every signal is built from realistic shapes: a level,
white or autocorrelated noise, a slice of a daily swing at a random phase, a trend,
occasional spikes and, for some, a random walk. On top of that:

- `causes` signals step 1-20 minutes before the alert (4-10 noise sigmas, either way, by
  default: the thing that broke moves clearly; 3 sigmas in autocorrelated noise is at the
  limit of what any test can tell from the noise, see the bench's --hard);
- `consequences` signals step 1-10 minutes after it (3-15 sigmas);
- `unrelated_shifts` of the others step 50-70 minutes before it (3-20 sigmas);
- the rest do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

STEP_S = 15.0
DAY_S = 86400.0


@dataclass(frozen=True)
class Incident:
    t_s: np.ndarray
    values: np.ndarray  # (signals, points)
    labels: list[dict[str, str]]
    start_s: float
    causes: list[int]  # row indices
    consequences: list[int]


def incident(
    rng: np.random.Generator,
    *,
    signals: int = 2000,
    points: int = 360,
    after_points: int = 40,
    causes: int = 3,
    consequences: int = 20,
    unrelated_shifts: float = 0.05,
    cause_sigmas: tuple[float, float] = (4, 10),
) -> Incident:
    """One random incident (see the module docstring)."""
    t0 = 1_700_000_000.0 + float(rng.uniform(0, DAY_S))
    t = t0 + STEP_S * np.arange(points)
    alert = points - after_points
    level = np.exp(rng.normal(3, 2, signals))
    sd = level * rng.uniform(0.01, 0.1, signals)
    x = _noise(rng, signals, points) * sd[:, None]
    x += level[:, None]
    swing = rng.uniform(0, 0.5, signals) * level * (rng.random(signals) < 0.6)
    x += swing[:, None] * np.sin(2 * np.pi * t[None, :] / DAY_S + rng.uniform(0, 2 * np.pi, signals)[:, None])
    slope = rng.normal(0, 0.1, signals) * level / 3600 * (rng.random(signals) < 0.3)
    x += slope[:, None] * (t - t0)[None, :]
    walk = rng.random(signals) < 0.1
    x[walk] += np.cumsum(rng.normal(0, 0.3, (int(walk.sum()), points)), axis=1) * sd[walk, None]
    _spikes(rng, x, sd)
    rows = rng.permutation(signals)
    cause_rows = rows[:causes].tolist()
    consequence_rows = rows[causes : causes + consequences].tolist()
    n_unrelated = int(unrelated_shifts * signals)
    unrelated_rows = rows[causes + consequences : causes + consequences + n_unrelated].tolist()
    _shift(rng, x, sd, cause_rows, alert - rng.integers(4, 81, len(cause_rows)), cause_sigmas)
    _shift(rng, x, sd, consequence_rows, alert + rng.integers(4, min(41, after_points), len(consequence_rows)), (3, 15))
    _shift(rng, x, sd, unrelated_rows, alert - rng.integers(200, 281, len(unrelated_rows)), (3, 20))
    labels = [{"__name__": f"metric_{i % 97}", "instance": f"host-{i // 97}"} for i in range(signals)]
    return Incident(t, x, labels, float(t[alert]), cause_rows, consequence_rows)


def _noise(rng: np.random.Generator, signals: int, points: int) -> np.ndarray:
    """Unit-variance noise; a third of the rows AR(1) with phi in [0.3, 0.8]."""
    e = rng.normal(0, 1, (signals, points))
    ar = rng.random(signals) < 1 / 3
    for i in np.flatnonzero(ar):
        phi = rng.uniform(0.3, 0.8)
        e[i] = lfilter([np.sqrt(1 - phi * phi)], [1, -phi], e[i])
    return e


def _spikes(rng: np.random.Generator, x: np.ndarray, sd: np.ndarray) -> None:
    """A third of the rows get 1-3 single-point spikes of 5-20 sigmas."""
    for i in np.flatnonzero(rng.random(x.shape[0]) < 1 / 3):
        at = rng.integers(0, x.shape[1], rng.integers(1, 4))
        x[i, at] += rng.choice([-1, 1], at.size) * rng.uniform(5, 20, at.size) * sd[i]


def _shift(
    rng: np.random.Generator,
    x: np.ndarray,
    sd: np.ndarray,
    rows: list[int],
    at: np.ndarray,
    sigmas: tuple[float, float],
) -> None:
    for row, k in zip(rows, at.tolist()):
        x[row, k:] += rng.choice([-1, 1]) * rng.uniform(*sigmas) * sd[row]


def ranks(ranked_rows: list[int], wanted: list[int]) -> list[int | None]:
    """1-based rank of each wanted row in `ranked_rows` (None: not ranked)."""
    where = {row: i + 1 for i, row in enumerate(ranked_rows)}
    return [where.get(row) for row in wanted]
