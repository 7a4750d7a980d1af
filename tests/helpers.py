"""Builders and small helpers shared by tests."""

from __future__ import annotations

import socket
import subprocess
from typing import Any


class Client:
    """The Flask test client with a role: `client.as_("operator").post(...)`."""

    def __init__(self, flask_client: Any, tokens: dict[str, str], role: str | None = "admin") -> None:
        self._client = flask_client
        self.tokens = tokens
        self.role = role

    def as_(self, role: str | None) -> "Client":
        return Client(self._client, self.tokens, role)

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.role:
            headers.setdefault("Authorization", f"Bearer {self.tokens[self.role]}")
        return headers

    def get(self, url: str, **kw: Any) -> Any:
        return self._client.get(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self._client.post(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self._client.put(url, headers=self._headers(kw.pop("headers", None)), **kw)

    def open(self, url: str, *, method: str, **kw: Any) -> Any:
        return self._client.open(url, method=method, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self._client.delete(url, headers=self._headers(kw.pop("headers", None)), **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(process: "subprocess.Popen[bytes]") -> None:
    """Terminate a server the test started; kill it if it has not gone within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
