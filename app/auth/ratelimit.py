"""Slow down token guessing: a client whose tokens keep failing gets 429 instead of 401.

Only failures count, and a valid token is checked before the brake: it always gets in,
so people who share an address (a NAT, a proxy) with a guesser are never locked out. The
guesser is not slowed per guess by this (a right guess would get in too); what makes
guessing hopeless is the token's 256 random bits: at 100,000 guesses a second, finding one
of 1,000 tokens takes ~10^62 years. The brake keeps a guesser's noise out of the log and
tells a misconfigured client to stop.

Per process (each Gunicorn worker keeps its own window). The address is the peer's, or the
client's behind a proxy listed in settings.trusted_proxies (app.auth.proxies).
"""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_S = 60.0
MAX_FAILURES = 20
_failures: dict[str, deque[float]] = {}
_lock = threading.Lock()


def blocked(client: str, now: float | None = None) -> float:
    """Seconds until `client`'s failures fall under the limit (0: not blocked)."""
    now = time.monotonic() if now is None else now
    with _lock:
        window = _failures.get(client)
        if window is None or len(window) < MAX_FAILURES or window[0] <= now - WINDOW_S:
            return 0.0
        return window[0] + WINDOW_S - now


def record_failure(client: str, now: float | None = None) -> float:
    """Count a failed authentication; returns how long `client` was already blocked (0: answer 401)."""
    now = time.monotonic() if now is None else now
    wait_s = blocked(client, now)
    with _lock:
        if len(_failures) > 100_000:  # a flood of distinct addresses must not grow memory forever
            _failures.clear()
        _failures.setdefault(client, deque(maxlen=MAX_FAILURES)).append(now)
    return wait_s
