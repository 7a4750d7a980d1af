"""Time arithmetic in SQL that reads the same on SQLite and PostgreSQL.

SQLite keeps datetimes as text, PostgreSQL as timestamps; each compiles its own expression,
so the grouping and averaging happen in the database instead of over fetched rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement


class bucket_start(FunctionElement[int]):
    """Unix seconds of the start of the `seconds`-wide bucket holding a datetime column."""

    type = BigInteger()
    inherit_cache = True

    def __init__(self, column: Any, seconds: int) -> None:
        if not 0 < int(seconds) < 10**8:
            raise ValueError(f"bucket seconds out of range: {seconds}")
        # Inline, not a bound parameter: PostgreSQL's GROUP BY must repeat the select's exact text.
        super().__init__(column, literal_column(str(int(seconds))))


class seconds_between(FunctionElement[float]):
    """end - start in seconds (fractional), NULL when either is NULL."""

    type = Float()
    inherit_cache = True


def _args(element: FunctionElement[Any], compiler: Any, **kw: Any) -> list[str]:
    return [compiler.process(arg, **kw) for arg in element.clauses]


@compiles(bucket_start, "sqlite")
def _bucket_sqlite(element: bucket_start, compiler: Any, **kw: Any) -> str:
    column, n = _args(element, compiler, **kw)
    return f"((CAST(strftime('%s', {column}) AS INTEGER) / {n}) * {n})"


@compiles(bucket_start, "postgresql")
def _bucket_postgresql(element: bucket_start, compiler: Any, **kw: Any) -> str:
    column, n = _args(element, compiler, **kw)
    return f"(CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / {n}) AS BIGINT) * {n})"


@compiles(seconds_between, "sqlite")
def _between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    end, start = _args(element, compiler, **kw)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _between_postgresql(element: seconds_between, compiler: Any, **kw: Any) -> str:
    end, start = _args(element, compiler, **kw)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"
