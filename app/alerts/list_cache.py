"""GET /api/v1/alerts answered from memory while the SQLite database has not changed.

Dashboards and scripts poll the same pages of the alert list, and each answer cost a query
plus Flask's whole request cycle. This WSGI middleware keeps the answers Flask made, keyed by
query string, and replays one only while `PRAGMA data_version` still reads the value it read
before Flask made that answer: SQLite changes that number whenever any other connection (any
worker, the scheduler, another process) commits, so a replayed answer is never stale.
Only callers holding a live token are answered from memory: the token is looked up on the
same read-only connection, as one probe of its unique index, so a token revoked by any
process is refused at once. Callers whose last use needs recording, and everyone else, reach Flask.

A fast path, fenced here: bench/bench_load.py's alerts scenario justifies it (replayed answers
4,411-4,808 req/s, 60-64% of hello-world, against 1,497-2,017 req/s with every answer queried,
`alert_list_cache_mb: 0`; README, "Reliability and security").
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from typing import Any, Callable, Iterable, NamedTuple

from cachetools import LRUCache

from app import logs, metrics
from app.auth import service
from app.db import Database

log = logging.getLogger("vigil.alerts")

PATH = "/api/v1/alerts"
_LIVE_TOKEN = "SELECT name, role FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL AND last_used_at >= ?"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Entry(NamedTuple):
    """One kept answer: the SQLite data_version it is valid for, and the response to replay."""

    version: int
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class ListCache:
    """WSGI middleware in front of the app: replays GET /api/v1/alerts answers while the database is unchanged."""

    def __init__(
        self, wsgi_app: WSGIApp, database: Database, *, mask_header: str = "X-Fields", max_bytes: int = 16 << 20
    ) -> None:
        if database.file is None:
            raise ValueError("the alert list cache needs a SQLite database file")
        self.app, self.database, self.file = wsgi_app, database, database.file
        self.mask_key = "HTTP_" + mask_header.upper().replace("-", "_")
        self._entries: LRUCache[str, Entry] = LRUCache(maxsize=max_bytes, getsizeof=lambda e: len(e.body))
        self._lock = threading.Lock()
        self._probe: sqlite3.Connection | None = None
        self._probe_pid = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET" or environ.get(self.mask_key):
            return self.app(environ, start_response)
        started = time.perf_counter()
        version = self._version()
        if version is None:
            return self.app(environ, start_response)
        key = environ.get("QUERY_STRING", "")
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry.version == version:
            actor = self._verified_caller(environ, time.time())
            if actor is not None:
                return self._replay(entry, environ, start_response, actor, started)
        return self._fill(key, version, environ, start_response)  # Flask checks the caller itself

    def _verified_caller(self, environ: dict[str, Any], now_s: float) -> str | None:
        """The name of a viewer (or better) whose live token this request carries, else None.

        None too when its last use is over a minute old: Flask then records it.
        """
        secret = service.bearer_secret(environ.get("HTTP_AUTHORIZATION", ""))
        if secret is None:
            return None
        # api_tokens.last_used_at as SQLite stores it: naive UTC text, which sorts as time does.
        fresh_after = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now_s - service.TOUCH_EVERY.total_seconds()))
        with self._lock:
            try:
                if self._probe is None:
                    return None
                row = self._probe.execute(_LIVE_TOKEN, (service.hash_token(secret), fresh_after)).fetchone()
            except sqlite3.Error:
                return None  # Flask checks the caller itself
        if row is None or row[1] not in service.ROLES:
            return None
        return str(row[0])

    def _version(self) -> int | None:
        """SQLite's data_version on this process's own read-only connection (None: cannot tell)."""
        with self._lock:
            try:
                if self._probe is None or self._probe_pid != os.getpid():  # never share one across fork
                    self._probe = sqlite3.connect(
                        f"{self.file.as_uri()}?mode=ro",
                        uri=True,
                        timeout=0.2,
                        check_same_thread=False,
                        isolation_level=None,
                    )
                    self._probe_pid = os.getpid()
                    self._entries.clear()  # versions of another connection mean nothing here
                version: int = self._probe.execute("PRAGMA data_version").fetchone()[0]
                return version
            except sqlite3.OperationalError:
                return None  # busy for a moment: this request takes the full path
            except sqlite3.Error as e:
                log.warning("alert list cache off for this request", extra={"error": str(e)})
                self._probe = None
                return None

    def _replay(
        self, entry: Entry, environ: dict[str, Any], start_response: Callable[..., Any], actor: str, started: float
    ) -> list[bytes]:
        rid = logs.request_id(environ.get("HTTP_X_REQUEST_ID", ""))
        start_response(entry.status, [*entry.headers, ("X-Request-ID", rid)])
        metrics.ALERT_LIST_CACHE.labels("hit").inc()
        logs.record(
            method="GET",
            endpoint=PATH,
            path=PATH,
            status=int(entry.status[:3]),
            elapsed_s=time.perf_counter() - started,
            rid=rid,
            actor=actor,
        )
        return [entry.body]

    def _fill(self, key: str, version: int, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """Let Flask answer, and keep a 200 answer under the version read before it ran."""
        seen: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen[:] = [status, headers]
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        status, headers = seen
        metrics.ALERT_LIST_CACHE.labels("miss").inc()
        if status.startswith("200 ") and not any(k.lower() == "set-cookie" for k, _ in headers):
            kept = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            with self._lock:
                try:
                    self._entries[key] = Entry(version, status, kept, body)
                except ValueError:
                    pass  # one answer larger than the whole cache: just not kept
        return [body]
