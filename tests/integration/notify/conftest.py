"""A real webhook receiver on loopback that records what it is sent and answers as told."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.time() when the request arrived

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Webhook:
    """The receiver: `url` to post to, `received` requests, `answer(...)` queues replies."""

    def __init__(self, server: ThreadingHTTPServer, path: str) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        self.received: list[Received] = []
        self.replies: list[Reply] = []
        self.stop = threading.Event()

    def answer(
        self, status: int = 200, body: bytes = b"ok", headers: dict[str, str] | None = None, delay_s: float = 0.0
    ) -> None:
        self.replies.append(Reply(status, body, headers or {}, delay_s))


def _handler(hook: Webhook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.received.append(Received(self.path, dict(self.headers.items()), body, time.time()))
            reply = hook.replies.pop(0) if hook.replies else Reply()
            if reply.delay_s and hook.stop.wait(reply.delay_s):
                return  # the test is over; nobody is listening any more
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and went away, as the test intended

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def webhooks() -> Iterator[Callable[[], Webhook]]:
    """Make receivers at secret-looking paths, like real webhook URLs; each stops at the end
    (which also releases any reply still waiting out its delay_s)."""
    started: list[tuple[Webhook, threading.Thread]] = []

    def make() -> Webhook:
        server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        server.daemon_threads = True
        hook = Webhook(server, "/services/T0001/B0002/s3cr3tWebhookT0ken")
        server.RequestHandlerClass = _handler(hook)
        # A short poll interval keeps shutdown (and so each test) quick.
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        thread.start()
        started.append((hook, thread))
        return hook

    yield make
    for hook, thread in started:
        hook.stop.set()
        hook.server.shutdown()
        hook.server.server_close()
        thread.join(5)


@pytest.fixture
def webhook(webhooks: Callable[[], Webhook]) -> Webhook:
    """A receiver at a secret-looking path, like a real webhook URL."""
    return webhooks()


@pytest.fixture
def slack() -> Iterator[Any]:
    """A loopback fake of Slack's Web API (tests/integration/notify/chat_fakes.py)."""
    from tests.integration.notify.chat_fakes import FakeSlack

    fake = FakeSlack()
    yield fake
    fake.close()


@pytest.fixture
def mattermost() -> Iterator[Any]:
    """A loopback fake of Mattermost's REST API."""
    from tests.integration.notify.chat_fakes import FakeMattermost

    fake = FakeMattermost()
    yield fake
    fake.close()


@pytest.fixture
def chat(
    tmp_path: Any, database: Any, database_url: str, slack: Any, mattermost: Any, webhook: Webhook
) -> Iterator[Any]:
    """Vigil on loopback with threaded Slack and Mattermost bots and a generic webhook."""
    from tests.integration.notify.chat_harness import ChatVigil

    vigil = ChatVigil(tmp_path, database, database_url, slack, mattermost, generic_url=webhook.url)
    yield vigil
    vigil.close()
