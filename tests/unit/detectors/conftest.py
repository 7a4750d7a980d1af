"""Builders for detector unit tests: they set only what a test is about."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np
import pandas as pd
import pytest

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def series_of(values: "list[float] | np.ndarray", *, step_s: float = 15.0, start: datetime = T0) -> pd.Series:
    """A float series on a UTC index, one point every step_s seconds from start."""
    v = np.asarray(values, dtype=np.float64)
    index = pd.date_range(start, periods=v.size, freq=pd.Timedelta(seconds=step_s), tz="UTC")
    return pd.Series(v, index=index)


def end_of(series: pd.Series) -> datetime:
    return series.index[-1].to_pydatetime()


@pytest.fixture
def make_series() -> Callable[..., pd.Series]:
    return series_of


@pytest.fixture
def t0() -> datetime:
    return T0


@pytest.fixture
def minutes() -> Callable[[float], timedelta]:
    return lambda m: timedelta(minutes=m)


class _Recorder:
    """A loopback HTTP server answering with `respond(method, path, body)` and recording requests."""

    def __init__(self, respond: Callable[[str, str, bytes], tuple[int, bytes]]) -> None:
        import http.server
        import threading

        self.requests: list[tuple[str, str, bytes, dict[str, str]]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append((self.command, self.path, body, dict(self.headers)))
                status, payload = respond(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    """serve(respond) -> a running _Recorder; shut down after the test."""
    servers: list[_Recorder] = []

    def start(respond: Callable[[str, str, bytes], tuple[int, bytes]]) -> _Recorder:
        servers.append(_Recorder(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
