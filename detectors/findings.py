"""What an analysis says about one series at one moment."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# error / nodata: the app's alerts for a detector that cannot see (its source fails or answers nothing).
Kind = Literal["threshold", "zscore", "changepoint", "auto", "error", "nodata"]
State = Literal["ok", "pending", "firing"]
STATES: tuple[State, ...] = ("ok", "pending", "firing")


@dataclass(frozen=True)
class Finding:
    """The verdict of one analysis on one series.

    Attributes:
        kind: which analysis produced it.
        labels: the series labels (the detector's own labels are added by the app).
        state: 'ok', 'pending' (breaching, not for long enough yet) or 'firing'.
        value: the latest value looked at, None when there was none.
        threshold: the bound (threshold) or z limit (zscore) compared against.
        change_points: UTC times where new regimes start (changepoint only).
        before: level before the last change point (median), or the baseline.
        after: level after the last change point (median).
        active_since: when the current breach or regime started.
        message: a human one-liner, e.g. "cpu_percent 97.2 > 90 for 2m".
        evidence: a downsampled, JSON-safe window for plotting (a LazyEvidence from
            the analyses: built when first read).
    """

    kind: Kind
    labels: dict[str, str]
    state: State
    value: float | None = None
    threshold: float | None = None
    change_points: list[datetime] = field(default_factory=list)
    before: float | None = None
    after: float | None = None
    active_since: datetime | None = None
    message: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: ISO-8601 times, NaN/inf as None."""
        return {
            "kind": self.kind,
            "labels": dict(self.labels),
            "state": self.state,
            "value": finite_or_none(self.value),
            "threshold": finite_or_none(self.threshold),
            "change_points": [t.isoformat() for t in self.change_points],
            "before": finite_or_none(self.before),
            "after": finite_or_none(self.after),
            "active_since": self.active_since.isoformat() if self.active_since else None,
            "message": self.message,
            "evidence": _json_safe(self.evidence),
        }


class LazyEvidence(Mapping[str, Any]):
    """Evidence that is built on first read.

    A tick yields a Finding per series, most of them ok, and only those with an open
    alert (or a preview) are ever shown; converting 240 points to lists for each of the
    others would cost as much as analysing them. Pickling or copying gives a plain dict.

    Args:
        build: returns the evidence dict; called at most once. It must only close over
            values that nobody changes afterwards.
    """

    __slots__ = ("_build", "_data")

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build: Callable[[], dict[str, Any]] | None = build
        self._data: dict[str, Any] = {}

    def _get(self) -> dict[str, Any]:
        if self._build is not None:
            self._data, self._build = self._build(), None  # drop the closure and its arrays
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return "LazyEvidence(...)" if self._build is not None else f"LazyEvidence({self._data!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return dict, (dict(self._get()),)


def finite_or_none(value: float | None) -> float | None:
    """`value` as a plain float, or None when missing, NaN or infinite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _json_safe(value: Any) -> Any:
    # Evidence is built JSON-safe already; this guards what callers add by hand.
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def format_duration(seconds: float) -> str:
    """A short human duration: 45s, 2m, 2m30s, 1h5m, 3d2h."""
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s}s"
    for unit, size, sub, subsize in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if s >= size:
            major, rest = divmod(s, size)
            minor = rest // subsize
            return f"{major}{unit}{minor}{sub}" if minor else f"{major}{unit}"
    return f"{s}s"  # unreachable: s >= 60 matched above


def format_value(value: float | None) -> str:
    """A compact number for messages: 97.2, 0.00123, 1.2e+09, or 'no value'."""
    if value is None or math.isnan(value):
        return "no value"
    return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3g}"
