"""Engine, sessions and the declarative Base shared by every domain's models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

from sqlalchemy import Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app import groupcommit
from app.errors import NotFoundError

RowT = TypeVar("RowT")
T = TypeVar("T")

# Stable constraint names so Alembic batch migrations on SQLite can address them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table; constraints get NAMING's names so migrations can refer to them."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns tz-aware UTC datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def get_or_404(session: Session, model: type[RowT], key: Any, what: str) -> RowT:
    """The row with this primary key, or NotFoundError("<what> <key> not found")."""
    row = session.get(model, key)
    if row is None:
        raise NotFoundError(f"{what} {key} not found")
    return row


def page(items: list[Any], limit: int) -> tuple[list[Any], int | None]:
    """Trim a limit+1 query result to a page and say where the next one starts."""
    if len(items) > limit:
        items = items[:limit]
        return items, items[-1].id
    return items, None


def utcnow() -> datetime:
    """The current time, UTC-aware (naive datetimes are refused by UTCDateTime)."""
    return datetime.now(timezone.utc)


def iso(value: datetime | None) -> str | None:
    """ISO-8601 with microseconds always: every time the API answers, stored list JSON included."""
    return value.isoformat(timespec="microseconds") if value else None


def normalise_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use the psycopg 3 driver for both."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def sqlite_url(data_dir: str | Path) -> str:
    """The URL of `vigil.db` in `data_dir`, creating the directory if needed."""
    path = Path(data_dir).resolve() / "vigil.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class Database:
    """One engine per process plus two session factories: write (BEGIN IMMEDIATE) and read."""

    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        name = parsed.database if self.is_sqlite else None
        # The SQLite file on disk; None for PostgreSQL and for in-memory or URI-named SQLite.
        self.file = Path(name).resolve() if name and name != ":memory:" and not name.startswith("file:") else None
        if self.is_sqlite:
            self.engine = create_engine(self.url, connect_args={"timeout": 30, "check_same_thread": False})
            _sqlite_pragmas(self.engine)
        else:
            # A bounded connect keeps a request from hanging while the server is away.
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                pool_recycle=1800,
                connect_args={"connect_timeout": 5},
            )
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)
        # One statement needs no transaction: on SQLite skip BEGIN (its own snapshot suffices).
        self._one_read = self.engine.execution_options(sqlite_begin=None)
        self._group = groupcommit.GroupCommit(self, f"{self.file}.write-lock") if self.file else None

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A plain connection for a hot path that reads with a single statement."""
        with self._one_read.connect() as connection:
            yield connection

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A plain transaction (BEGIN IMMEDIATE on SQLite) for a hot path that writes with Core statements."""
        with self.engine.begin() as connection:
            yield connection

    def grouped_write(self, write: Callable[[Connection], T]) -> T:
        """Run `write` in a committed transaction, shared on SQLite with other threads' writes."""
        if self._group is None:
            with self.write_connection() as connection:
                return write(connection)
        return self._group.run(write)

    def dispose(self) -> None:
        self.engine.dispose()


def _re2_search(pattern: str | None, value: str | None) -> bool:
    from config import regex  # only SQLite connections need it

    return pattern is not None and value is not None and regex.compile_label_regex(pattern).search(value) is not None


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, emit BEGIN (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # REGEXP (label =~ filters) on RE2, replacing the backtracking `re` one SQLAlchemy adds.
        dbapi_conn.create_function("regexp", 2, _re2_search, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred BEGIN that later upgrades to a write lock fails with SQLITE_BUSY at
        # once, whatever the busy timeout; IMMEDIATE waits for the lock instead.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode is not None:
            conn.exec_driver_sql(f"BEGIN {mode}")
