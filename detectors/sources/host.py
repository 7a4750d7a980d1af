"""This machine's CPU, memory, swap, disk and load, sampled with psutil.

Each fetch takes one sample of every metric, stamped with the fetch's `end` (once per
distinct `end`: a second detector in the same tick reuses it, because cpu_percent
measures since its previous call and a back-to-back call would read nonsense).
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import psutil

from config.schema import HostSource
from detectors.errors import SourceError
from detectors.series import LabelledSeries
from detectors.sources.base import RollingWindow


def _readers(disk_path: str) -> dict[str, Callable[[], float]]:
    return {
        "cpu_percent": lambda: float(psutil.cpu_percent(interval=None)),
        "memory_percent": lambda: float(psutil.virtual_memory().percent),
        "swap_percent": lambda: float(psutil.swap_memory().percent),
        "disk_percent": lambda: float(psutil.disk_usage(disk_path).percent),
        "load1": lambda: float(psutil.getloadavg()[0]),
        "load5": lambda: float(psutil.getloadavg()[1]),
        "load15": lambda: float(psutil.getloadavg()[2]),
    }


QUERIES = tuple(_readers("/"))
"""The query names a host source answers."""


class HostSampler:
    """Sample this host on every fetch and keep `keep_points` samples per metric.

    Args:
        cfg: the source configuration.
    """

    def __init__(self, cfg: HostSource) -> None:
        self.name = cfg.name
        self._cfg = cfg
        self._readers = _readers(cfg.disk_path)
        self._windows = {q: RollingWindow(cfg.keep_points) for q in QUERIES}
        self._last_s: float | None = None
        psutil.cpu_percent(interval=None)  # the first call only starts the measurement

    def fetch(self, query: str, *, start: datetime, end: datetime, step_s: float) -> list[LabelledSeries]:
        """Sample at `end` (once per distinct `end`) and return `query`'s points in [start, end].

        Args:
            query: one of QUERIES, e.g. 'cpu_percent'.
            start, end: the window.
            step_s: unused.

        Returns:
            One series labelled {"__name__": query}.

        Raises:
            SourceError: unknown query (permanent) or psutil failure (e.g. missing disk_path).
        """
        name = query.strip()
        if name not in self._readers:
            raise SourceError(
                f'host source "{self.name}": unknown query {query!r}; valid: {", ".join(QUERIES)}',
                source=self.name,
                permanent=True,
            )
        end_s = end.timestamp()
        if self._last_s is None or end_s > self._last_s:
            self._sample(end_s)
        t, v = self._windows[name].between(start.timestamp(), end_s)
        return [LabelledSeries.from_arrays({"__name__": name}, t, v)]

    def _sample(self, t_s: float) -> None:
        for name, read in self._readers.items():
            try:
                value = read()
            except (OSError, psutil.Error) as exc:
                raise SourceError(
                    f'host source "{self.name}": cannot read {name} ({exc})',
                    source=self.name,
                    permanent=isinstance(exc, FileNotFoundError),
                ) from exc
            self._windows[name].append(t_s, value)
        self._last_s = t_s
