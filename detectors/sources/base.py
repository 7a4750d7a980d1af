"""What every metric source offers, and the bounded window live sources keep."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from detectors.series import LabelledSeries


@runtime_checkable
class Source(Protocol):
    """A place metrics come from.

    `fetch` returns every series the query selects with its points in [start, end].
    It raises `detectors.errors.SourceError` when the source cannot answer.
    """

    name: str

    def fetch(self, query: str, *, start: datetime, end: datetime, step_s: float) -> list[LabelledSeries]:
        """Series selected by `query`, restricted to [start, end] (see each source)."""
        ...


class RollingWindow:
    """The last `size` (time, value) points of one series, in a preallocated ring.

    Live sources (scrape, host) sample once per fetch, so they remember what they
    saw to give analyses a window. A point stamped at the same time as the newest
    one replaces it (two detectors fetching in the same tick).
    """

    def __init__(self, size: int) -> None:
        self._t = np.full(size, np.nan)
        self._v = np.full(size, np.nan)
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, t_s: float, value: float) -> None:
        """Add a point; times must not go backwards (an older point is ignored)."""
        size = self._t.size
        if self._count:
            newest = (self._next - 1) % size
            if t_s == self._t[newest]:
                self._v[newest] = value
                return
            if t_s < self._t[newest]:
                return
        self._t[self._next] = t_s
        self._v[self._next] = value
        self._next = (self._next + 1) % size
        self._count = min(self._count + 1, size)

    def arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(times, values) oldest first, as new arrays."""
        if self._count < self._t.size:
            return self._t[: self._count].copy(), self._v[: self._count].copy()
        order = np.r_[self._next : self._t.size, 0 : self._next]
        return self._t[order], self._v[order]

    def between(self, start_s: float, end_s: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(times, values) within [start_s, end_s], oldest first."""
        t, v = self.arrays()
        lo = int(np.searchsorted(t, start_s, side="left"))
        hi = int(np.searchsorted(t, end_s, side="right"))
        return t[lo:hi], v[lo:hi]

    def all_nan(self) -> bool:
        """True when every remembered value is NaN (the series has gone away)."""
        return bool(np.isnan(self._v[: self._count]).all())
