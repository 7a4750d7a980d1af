"""Fetch the signals a diagnosis looks at, and rank them against one alert.

Plain values in and out (sources, configuration, label sets), so the scheduler's thread,
an RQ worker or a test can call them alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from config.schema import DetectorConfig, DiagnoseConfig, HostSource, ScrapeSource, SourceConfig
from detectors.diagnosis.rank import Diagnosis, Params, diagnose_series
from detectors.errors import SourceError
from detectors.series import LabelledSeries
from detectors.sources.base import Source
from detectors.sources.host import QUERIES as HOST_QUERIES
from detectors.sources.scrape import ScrapeHistory

POINTS = 360
"""Points per signal a diagnosis asks for: enough for a jump 1-20 minutes before the
alert to have windows on both sides, few enough that 5,000 signals rank in well under a second."""


def step_for(cfg: DiagnoseConfig) -> float:
    """Seconds between points: the window cut into about POINTS steps (whole seconds, >= 1)."""
    return float(max(1, math.ceil((cfg.lookback + cfg.after) / POINTS)))


HISTORY_SLACK = 1.5
"""A scrape source's ring reaches back 1.5 x (lookback + after): a diagnosis that starts up
to half its window late (queued behind others) still finds all of it."""


def scrape_history_for(source: SourceConfig, detectors: Sequence[DetectorConfig]) -> ScrapeHistory | None:
    """The ring of every series a scrape source must keep for the diagnoses that read it
    without queries (None: no such diagnosis). Sized by their longest lookback + after, at
    their finest step, for their largest max_signals."""
    if not isinstance(source, ScrapeSource):
        return None
    blocks = [
        d.diagnose
        for d in detectors
        if d.enabled
        and d.diagnose is not None
        and not d.diagnose.queries
        and (d.diagnose.source or d.source) == source.name
    ]
    if not blocks:
        return None
    return ScrapeHistory(
        span_s=HISTORY_SLACK * max(b.lookback + b.after for b in blocks),
        spacing_s=min(step_for(b) for b in blocks),
        max_series=max(b.max_signals for b in blocks),
    )


def queries_for(cfg: DiagnoseConfig, source: SourceConfig) -> list[str]:
    """The configured queries; for a host source without any, every host metric (a scrape
    source without any reads its ScrapeHistory instead)."""
    if cfg.queries:
        return list(cfg.queries)
    if isinstance(source, HostSource):
        return list(HOST_QUERIES)
    raise SourceError(
        f'source "{source.name}": diagnose needs queries for a {source.type} source', source=source.name, permanent=True
    )


def fetch(
    source: Source, queries: Sequence[str], *, start: datetime, end: datetime, step_s: float, max_signals: int
) -> tuple[list[LabelledSeries], bool]:
    """(the series of every query over [start, end], whether max_signals cut them short).

    Raises:
        SourceError: a query failed (the message names the source and the query's trouble).
    """
    found: list[LabelledSeries] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for query in queries:
        for s in source.fetch(query, start=start, end=end, step_s=step_s):
            key = tuple(sorted(s.labels.items()))
            if key in seen:
                continue  # two queries selecting the same series
            if len(found) >= max_signals:
                return found, True
            seen.add(key)
            found.append(s)
    return found, False


def rank_for_alert(
    series: Sequence[LabelledSeries],
    alert_labels: Mapping[str, str],
    *,
    start_s: float,
    direction: int,
    top: int,
    params: Params = Params(),  # noqa: B008  (frozen: one shared default is safe)
) -> Diagnosis:
    """Rank `series` against an alert (see detectors.diagnosis.rank).

    The alert's own series (every label of it is one of the alert's) is left out: it is
    the symptom, not a suspect. Series of the alert's metric (same __name__) get polarity
    +1, so moving against the alert counts less; every other series has none.
    """
    own_name = alert_labels.get("__name__")
    kept = [s for s in series if not _own(s.labels, alert_labels)]
    polarity = [1 if own_name is not None and s.labels.get("__name__") == own_name else 0 for s in kept]
    return diagnose_series(kept, start_s=start_s, direction=direction, polarity=polarity, params=params, top=top)


def _own(labels: Mapping[str, str], alert_labels: Mapping[str, str]) -> bool:
    return bool(labels) and all(alert_labels.get(k) == v for k, v in labels.items())
