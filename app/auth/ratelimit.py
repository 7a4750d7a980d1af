"""Slow down token guessing: too many failed authentications from one client get 429.

Per process (each Gunicorn worker keeps its own window), so the effective limit is the
limit times the worker count: still far below what guessing a 256-bit token would need.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

WINDOW_S = 60.0
MAX_FAILURES = 20
_failures: dict[str, deque[float]] = defaultdict(deque)
_lock = threading.Lock()


def blocked(client: str, now: float | None = None) -> float:
    """Seconds until `client` may try again (0 when it may try now)."""
    now = time.monotonic() if now is None else now
    with _lock:
        window = _failures.get(client)
        if not window:
            return 0.0
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if len(window) < MAX_FAILURES:
            return 0.0
        return window[0] + WINDOW_S - now


def record_failure(client: str, now: float | None = None) -> None:
    now = time.monotonic() if now is None else now
    with _lock:
        window = _failures[client]
        window.append(now)
        while len(window) > MAX_FAILURES:
            window.popleft()
        if len(_failures) > 100_000:  # a flood of distinct addresses must not grow memory forever
            _failures.clear()
