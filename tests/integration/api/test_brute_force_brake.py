"""The brake on token guessing slows the guesser, never the valid users who share its address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

from app import create_app
from app.auth import ratelimit
from app.auth.proxies import client_address
from tests.conftest import make_config
from tests.integration.dashboard.conftest import Web

GUESSES = 200
TRUSTED = [ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.9.0.0/16")]


@pytest.fixture(autouse=True)
def _fresh_brake() -> Iterator[None]:
    ratelimit._failures.clear()
    yield
    ratelimit._failures.clear()


def _guess(client: Any, i: int, **kw: Any) -> int:
    answer = client.as_(None).get("/api/v1/alerts", headers={"Authorization": f"Bearer vgl_guess{i}", **kw})
    return int(answer.status_code)


def test_a_valid_token_gets_in_after_200_bad_ones_from_the_same_address(client: Any) -> None:
    statuses = [_guess(client, i) for i in range(GUESSES)]
    assert statuses[-1] == 429, "the guesser is braked"
    for role in ("viewer", "operator", "admin"):
        assert client.as_(role).get("/api/v1/alerts").status_code == 200
    assert client.as_("viewer").get("/api/v1/alerts").status_code == 200  # replayed from memory too
    assert _guess(client, GUESSES) == 429, "and the guesser still is"


def test_the_guesser_gets_429_with_retry_after_once_over_the_limit(client: Any) -> None:
    statuses = [_guess(client, i) for i in range(ratelimit.MAX_FAILURES + 1)]
    assert statuses == [401] * ratelimit.MAX_FAILURES + [429]
    answer = client.as_(None).get("/api/v1/alerts", headers={"Authorization": "Bearer vgl_more"})
    assert answer.status_code == 429 and 0 < int(answer.headers["Retry-After"]) <= ratelimit.WINDOW_S + 1
    assert client.as_("revoked").get("/api/v1/alerts").status_code == 429, "a revoked token is a failure too"


def test_a_valid_dashboard_sign_in_gets_in_after_200_bad_ones(app: Any, tokens: dict[str, str]) -> None:
    web = Web(app.test_client(), tokens)
    statuses = [web.post("/login", {"token": f"vgl_guess{i}"}).status_code for i in range(GUESSES)]
    assert statuses[-1] == 429
    assert web.post("/login", {"token": tokens["viewer"]}).status_code == 302
    assert web.get("/alerts").status_code == 200


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(client: Any) -> None:
    # No trusted proxies configured: a guesser cannot dodge the brake by inventing addresses.
    statuses = [_guess(client, i, **{"X-Forwarded-For": f"198.51.100.{i % 250}"}) for i in range(GUESSES)]
    assert statuses[-1] == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_brake(
    tmp_path: Any, database_url: str, database: Any, tokens: dict[str, str]
) -> None:
    from tests.helpers import Client

    app = create_app(make_config(tmp_path, database_url, settings={"trusted_proxies": ["127.0.0.1", "10.9.0.0/16"]}))
    try:
        client = Client(app.test_client(), tokens)
        guesser = {"X-Forwarded-For": "203.0.113.7, 10.9.0.4"}  # the client, then an inner proxy
        assert [_guess(client, i, **guesser) for i in range(GUESSES)][-1] == 429
        assert _guess(client, 0, **{"X-Forwarded-For": "203.0.113.8"}) == 401, "a neighbour is not braked"
        # A spoofed hop to the left of the real client changes nothing.
        assert _guess(client, 0, **{"X-Forwarded-For": "192.0.2.1, 203.0.113.7"}) == 429
        # Through a peer that is not a trusted proxy, the header is ignored: the peer is the client.
        untrusted = client.as_(None)._client.get(
            "/api/v1/alerts",
            environ_base={"REMOTE_ADDR": "192.0.2.50"},
            headers={"Authorization": "Bearer vgl_x", "X-Forwarded-For": "203.0.113.99"},
        )
        assert untrusted.status_code == 401 and "192.0.2.50" in ratelimit._failures
        assert "203.0.113.99" not in ratelimit._failures
    finally:
        app.extensions["vigil.db"].dispose()


@pytest.mark.parametrize(
    "peer,header,expected",
    [
        ("192.0.2.1", "203.0.113.5", "192.0.2.1"),  # untrusted peer: header ignored
        ("127.0.0.1", "203.0.113.5", "203.0.113.5"),
        ("127.0.0.1", "1.1.1.1, 203.0.113.5, 10.9.3.3", "203.0.113.5"),  # skip trusted hops from the right
        ("127.0.0.1", "10.9.0.1, 10.9.0.2", "10.9.0.1"),  # all trusted: the leftmost
        ("127.0.0.1", "not-an-ip, 203.0.113.5", "203.0.113.5"),
        ("127.0.0.1", "203.0.113.5, garbage", "127.0.0.1"),  # a malformed hop: trust stops at the proxy
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_address_reads_x_forwarded_for_only_through_trusted_proxies(
    peer: str, header: str, expected: str
) -> None:
    assert client_address(peer, header, TRUSTED) == expected
