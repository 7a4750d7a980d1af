"""The client's address behind reverse proxies that settings.trusted_proxies names.

X-Forwarded-For is written by whoever sends the request, so it is believed only when the
peer is a configured proxy; werkzeug's ProxyFix instead trusts a fixed number of hops from
any peer. The header is read right to left, skipping trusted proxies: the first address a
trusted proxy reports that is not itself a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any, Callable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").split("]")[0])
    except ValueError:
        return None


def client_address(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The client's address: `peer` itself unless `peer` is a trusted proxy."""

    def is_trusted(text: str) -> bool:
        address = _address(text)
        return address is not None and any(address in network for network in trusted)

    if not forwarded_for or not is_trusted(peer):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        if _address(hop) is None:
            break  # garbage (or a spoof a proxy passed on): the last good hop answers for it
        client = hop.strip()
        if not is_trusted(client):
            break
    return client


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the client behind trusted proxies (the peer is kept)."""

    def __init__(self, app: WSGIApp, trusted: Sequence[Network]) -> None:
        self.app, self.trusted = app, tuple(trusted)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR") or ""
        environ["vigil.peer_addr"] = peer
        environ["REMOTE_ADDR"] = client_address(peer, environ.get("HTTP_X_FORWARDED_FOR", ""), self.trusted)
        return self.app(environ, start_response)
