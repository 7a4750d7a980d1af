"""A CSV file replayed as a metric source (backtests, demos).

Format: a header whose first column is `timestamp`, then one or more value columns:

    timestamp,value                      one series, labels {}
    timestamp,api,db                     one series per column, labels {"series": "api"} ...

Timestamps are ISO-8601 (naive means UTC) or unix seconds, decided by the first row.
Empty cells and NaN are missing values. The query picks one column when it names a
column exactly, else every column is returned (so a production PromQL query can be
backtested against an exported CSV unchanged). A fetch returns only points in
[start, end], so a replay never sees the future. Times are kept to the microsecond, as
for every series. The parsed file is cached per (mtime, size) and a fetch is two binary
searches returning views of the cached arrays (no copy, no pandas), so the thousands of
ticks of a replay stay cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import numpy.typing as npt
import pandas as pd

from config.schema import CsvSource
from detectors.errors import SourceError
from detectors.series import LabelledSeries, seconds_from_ns

_MISSING = frozenset({"", "nan", "NaN", "NA", "null"})
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Table:
    t_ns: npt.NDArray[np.int64]  # sorted, unique, whole microseconds
    t_s: npt.NDArray[np.float64]  # the same stamps as the unix seconds series carry
    columns: tuple[str, ...]
    values: npt.NDArray[np.float64]  # (n_columns, n_rows)


class CsvReplay:
    """Serve the series of one CSV file.

    Args:
        cfg: the source configuration.
    """

    def __init__(self, cfg: CsvSource) -> None:
        self.name = cfg.name
        self._path = cfg.path
        self._cache: tuple[tuple[int, int], _Table] | None = None

    def fetch(self, query: str, *, start: datetime, end: datetime, step_s: float) -> list[LabelledSeries]:
        """The file's series restricted to [start, end].

        Args:
            query: a column name to select one series, anything else for all.
            start, end: the window (UTC-aware).
            step_s: unused (the file's own points are returned).

        Raises:
            SourceError: the file is missing or malformed (names file, line, column).
        """
        table = self._table()
        lo = int(np.searchsorted(table.t_ns, _ns(start), side="left"))
        hi = int(np.searchsorted(table.t_ns, _ns(end), side="right"))
        t = table.t_s[lo:hi]  # one view that every column's series shares
        picked = [query.strip()] if query.strip() in table.columns else list(table.columns)
        single = table.columns == ("value",)
        return [
            LabelledSeries({} if single else {"series": col}, t, table.values[table.columns.index(col), lo:hi])
            for col in picked
        ]

    def time_range(self) -> tuple[datetime, datetime] | None:
        """(first, last) timestamp in the file, None if it has no rows."""
        table = self._table()
        if not table.t_ns.size:
            return None
        return _datetime(int(table.t_ns[0])), _datetime(int(table.t_ns[-1]))

    def _table(self) -> _Table:
        try:
            st = os.stat(self._path)
        except OSError as exc:
            raise SourceError(
                f'csv source "{self.name}": cannot read {self._path} ({exc.strerror})', source=self.name, permanent=True
            ) from exc
        key = (st.st_mtime_ns, st.st_size)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, parse_csv(self._path, source=self.name))
        return self._cache[1]


def parse_csv(path: str, *, source: str) -> _Table:
    """Read and validate a CSV file into a sorted, de-duplicated table.

    Raises:
        SourceError: (permanent) unreadable, no timestamp column, bad timestamp or value.
    """
    where = f'csv source "{source}": {path}'
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise SourceError(
            f"{where}: the file is empty; expected a header like timestamp,value", source=source, permanent=True
        ) from exc
    except (pd.errors.ParserError, OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{where}: {str(exc).strip()}", source=source, permanent=True) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if not len(frame.columns) or frame.columns[0].lower() != "timestamp" or len(frame.columns) < 2:
        raise SourceError(
            f"{where}: expected a header 'timestamp,<value column>...', found {','.join(frame.columns) or 'nothing'}",
            source=source,
            permanent=True,
        )
    frame = frame[(frame != "").any(axis=1)]  # blank lines; index keeps the line numbers
    times = _timestamps(frame.iloc[:, 0], where, source)
    times = (times + 500) // 1000 * 1000  # whole microseconds, before de-duplicating
    values = (
        np.vstack([_numbers(frame[c], c, where, source) for c in frame.columns[1:]])
        if len(frame)
        else np.empty((len(frame.columns) - 1, 0))
    )
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[:, order]
    keep = np.append(times[1:] != times[:-1], True)  # last row wins for a repeated timestamp
    return _Table(
        times[keep], seconds_from_ns(times[keep]), tuple(frame.columns[1:]), np.ascontiguousarray(values[:, keep])
    )


def _ns(when: datetime) -> int:
    # Exact integer arithmetic (no float seconds, no pandas): called twice per replay tick.
    aware = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
    return (aware - _EPOCH) // _US * 1000


def _datetime(t_ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=t_ns // 1000)


def _first_bad(col: pd.Series, bad: pd.Series) -> tuple[int, object]:
    """(file line, raw cell) of the first flagged row; row label 0 is line 2, after the header."""
    pos = int(np.flatnonzero(bad.to_numpy())[0])
    return int(col.index[pos]) + 2, col.iloc[pos]


def _timestamps(col: pd.Series, where: str, source: str) -> npt.NDArray[np.int64]:
    if not len(col):
        return np.empty(0, np.int64)
    numeric = pd.to_numeric(col, errors="coerce")
    if not np.isnan(numeric.iloc[0]):
        bad = numeric.isna()
        parsed = pd.to_datetime(numeric.where(~bad, 0), unit="s", utc=True)
        kind = "unix seconds (as in the first row)"
    else:
        parsed = pd.to_datetime(col, utc=True, format="ISO8601", errors="coerce")
        bad = parsed.isna()
        kind = "an ISO-8601 time (as in the first row)"
    if bad.any():
        line, cell = _first_bad(col, bad)
        raise SourceError(
            f"{where} line {line}, column timestamp: expected {kind}, got {cell!r}", source=source, permanent=True
        )
    stamps: npt.NDArray[np.int64] = np.asarray(pd.DatetimeIndex(parsed).values).astype("M8[ns]").view(np.int64)
    return stamps.copy()


def _numbers(col: pd.Series, name: str, where: str, source: str) -> npt.NDArray[np.float64]:
    numeric = pd.to_numeric(col, errors="coerce")
    bad = numeric.isna() & ~(col.isin(_MISSING) | col.isna())  # NaN cell: a short row
    if bad.any():
        line, cell = _first_bad(col, bad)
        raise SourceError(
            f"{where} line {line}, column {name}: expected a number, got {cell!r}", source=source, permanent=True
        )
    return numeric.to_numpy(dtype=np.float64, na_value=np.nan)
