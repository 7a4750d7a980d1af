"""Loopback fakes of Slack's Web API and Mattermost's REST API, strict about request shapes.

Each is a real http.server on 127.0.0.1 (port 0). A request that breaks the service's
rules (wrong or missing bearer token, not JSON, missing fields, over Block Kit limits, a
reply to a thread that does not exist) is answered as the service would (Slack
`{"ok": false}`, Mattermost 400) and recorded in `problems`, which tests assert is empty.
They keep every message with its versions, and send button presses back to Vigil the way
the service does: Slack signed with its signing secret, Mattermost with the button's context.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

SLACK_MAX_BLOCKS = 50
SLACK_MAX_SECTION_TEXT = 3000
SLACK_MAX_FIELD_TEXT = 2000
SLACK_MAX_HEADER_TEXT = 150


@dataclass
class Message:
    """One posted message: its id, thread root (None: top level) and every version of its body."""

    ref: str
    channel: str
    thread: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def body(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)


class _Fake:
    def __init__(self, token: str) -> None:
        self.token = token
        self.messages: dict[str, Message] = {}
        self.order: list[str] = []  # refs in the order they were posted
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.lock = threading.Lock()
        self._next = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._serve(self)

            do_PUT = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def order_messages(self) -> list[Message]:
        return [self.messages[r] for r in self.order]

    def roots(self) -> list[Message]:
        return [self.messages[r] for r in self.order if self.messages[r].thread is None]

    def thread(self, root: Message) -> list[Message]:
        return [self.messages[r] for r in self.order if self.messages[r].thread == root.ref]

    def _new_ref(self) -> str:
        self._next += 1
        return self._ref(self._next)

    def _ref(self, n: int) -> str:
        raise NotImplementedError

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        raw = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        status, answer = self._answer(handler.command, handler.path, dict(handler.headers.items()), raw)
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _parse(self, headers: dict[str, str], raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return None, "invalid_auth"
        if not headers.get("Content-Type", "").startswith("application/json"):
            return None, "invalid_content_type"
        try:
            body = json.loads(raw)
        except ValueError:
            return None, "invalid_json"
        return (body, None) if isinstance(body, dict) else (None, "invalid_json")

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError


class FakeSlack(_Fake):
    """Slack's Web API at `api_url`: chat.postMessage, chat.update, chat.postEphemeral."""

    def __init__(self, token: str = "xoxb-test-bot-token", channel_id: str = "C0VIGIL") -> None:
        self.channel_id = channel_id
        super().__init__(token)
        self.api_url = f"{self.base}/api"

    def _ref(self, n: int) -> str:
        return f"1700000000.{n:06d}"

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        body, error = self._parse(headers, raw)
        with self.lock:
            if body is not None:
                self.calls.append((path, body))
                error = self._check(path, body)
            if error:
                self.problems.append(f"{path}: {error}")
                return 200, {"ok": False, "error": error}
            assert body is not None
            if path == "/api/chat.postMessage":
                ref = self._new_ref()
                self.messages[ref] = Message(ref, body["channel"], body.get("thread_ts"), [body])
                self.order.append(ref)
                return 200, {"ok": True, "channel": self.channel_id, "ts": ref}
            if path == "/api/chat.update":
                self.messages[body["ts"]].versions.append(body)
                return 200, {"ok": True, "channel": body["channel"], "ts": body["ts"]}
            self.ephemerals.append(body)
            return 200, {"ok": True, "message_ts": self._new_ref()}

    def _check(self, path: str, body: dict[str, Any]) -> str | None:
        if path not in ("/api/chat.postMessage", "/api/chat.update", "/api/chat.postEphemeral"):
            return "unknown_method"
        if body.get("channel") != self.channel_id:
            return "channel_not_found"
        if path == "/api/chat.postEphemeral":
            return None if isinstance(body.get("user"), str) and body.get("text") else "invalid_arguments"
        if path == "/api/chat.update" and body.get("ts") not in self.messages:
            return "message_not_found"
        thread = body.get("thread_ts")
        if thread is not None and (thread not in self.messages or self.messages[thread].thread is not None):
            return "thread_not_found"
        if not body.get("text") and not body.get("blocks"):
            return "no_text"
        return _block_kit_problem(body.get("blocks", []))

    def press(
        self,
        vigil: str,
        message: Message,
        action_id: str,
        *,
        user: str,
        signing_secret: str,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> requests.Response:
        """Press a button of `message` as Slack does: a signed form POST to the Request URL."""
        button = next(
            e
            for b in message.body["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e.get("action_id") == action_id
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower()},
            "channel": {"id": message.channel if message.channel.startswith("C") else self.channel_id},
            "container": {"type": "message", "message_ts": message.ref, "channel_id": self.channel_id},
            "message": {"ts": message.ref},
            "response_url": "https://hooks.slack.invalid/actions/1",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b",
                    "type": "button",
                    "value": button["value"],
                    "action_ts": str(time.time()),
                }
            ],
        }
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.send_signed(vigil, body, signing_secret=signing_secret, timestamp=timestamp, signature=signature)

    @staticmethod
    def send_signed(
        vigil: str, body: bytes, *, signing_secret: str, timestamp: int | None = None, signature: str | None = None
    ) -> requests.Response:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        mac = hmac.new(signing_secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or f"v0={mac}",
        }
        return requests.post(f"{vigil}/api/v1/chat/slack/actions", data=body, headers=headers, timeout=10)


def _block_kit_problem(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or len(blocks) > SLACK_MAX_BLOCKS:
        return "invalid_blocks: more than 50 blocks"
    for block in blocks:
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "")
        if kind == "section":
            if len(text) > SLACK_MAX_SECTION_TEXT:
                return "invalid_blocks: section text over 3000 characters"
            fields = block.get("fields", [])
            if len(fields) > 10 or any(len(f.get("text", "")) > SLACK_MAX_FIELD_TEXT for f in fields):
                return "invalid_blocks: section fields over 10 or over 2000 characters"
        elif kind == "header":
            if len(text) > SLACK_MAX_HEADER_TEXT:
                return "invalid_blocks: header over 150 characters"
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 0 < len(elements) <= 25:
                return "invalid_blocks: actions need 1 to 25 elements"
            for e in elements:
                if e.get("type") != "button" or len(e["text"]["text"]) > 75 or len(e.get("value", "")) > 2000:
                    return "invalid_blocks: bad button"
                if "url" not in e and not e.get("action_id"):
                    return "invalid_blocks: a button needs a url or an action_id"
        elif kind not in ("context", "divider"):
            return f"invalid_blocks: unknown block type {kind}"
    return None


class FakeMattermost(_Fake):
    """Mattermost's REST API at `api_url`: POST /api/v4/posts, PUT /api/v4/posts/{id}/patch,
    POST /api/v4/posts/ephemeral."""

    def __init__(self, token: str = "mm-bot-token-0123", channel_id: str = "mmchannel0vigil0000000000a") -> None:
        self.channel_id = channel_id
        super().__init__(token)
        self.api_url = self.base

    def _ref(self, n: int) -> str:
        return f"post{n:022d}"

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        body, error = self._parse(headers, raw)
        with self.lock:
            if body is not None:
                self.calls.append((f"{method} {path}", body))
                error = self._check(method, path, body)
            if error:
                self.problems.append(f"{method} {path}: {error}")
                return (401 if error == "invalid_auth" else 400), {"id": "api.error", "message": error}
            assert body is not None
            if path == "/api/v4/posts":
                ref = self._new_ref()
                self.messages[ref] = Message(ref, body["channel_id"], body.get("root_id") or None, [body])
                self.order.append(ref)
                return 201, {"id": ref, "channel_id": body["channel_id"], "root_id": body.get("root_id", "")}
            if path == "/api/v4/posts/ephemeral":
                self.ephemerals.append(body)
                return 201, {"id": self._new_ref()}
            ref = path.split("/")[4]
            self.messages[ref].versions.append({**self.messages[ref].body, **body})
            return 200, {"id": ref, "channel_id": self.messages[ref].channel}

    def _check(self, method: str, path: str, body: dict[str, Any]) -> str | None:
        if method == "POST" and path == "/api/v4/posts":
            if body.get("channel_id") != self.channel_id:
                return "channel_id: unknown channel"
            root = body.get("root_id")
            if root and (root not in self.messages or self.messages[root].thread is not None):
                return "root_id: no such root post"
        elif method == "POST" and path == "/api/v4/posts/ephemeral":
            return None if body.get("user_id") and body.get("post", {}).get("channel_id") else "bad ephemeral"
        elif method == "PUT" and path.startswith("/api/v4/posts/") and path.endswith("/patch"):
            if path.split("/")[4] not in self.messages:
                return "no such post"
        else:
            return f"unknown route {method} {path}"
        if not isinstance(body.get("message"), str) or not isinstance(body.get("props", {}), dict):
            return "message and props expected"
        attachments = body.get("props", {}).get("attachments", [])
        if len(json.dumps(body, ensure_ascii=False)) > 16_383 + 2000:
            return "post too long"
        for attachment in attachments:
            for action in attachment.get("actions", []):
                if not str(action.get("id", "")).isalnum() or "integration" not in action:
                    return "action ids must be alphanumeric and carry an integration"
        return None

    def press(
        self, message: Message, action_id: str, *, user: str, context: dict[str, Any] | None = None
    ) -> requests.Response:
        """Press a button of `message` as Mattermost does: POST the button's context to its URL."""
        action = next(
            a for att in message.body["props"]["attachments"] for a in att.get("actions", []) if a["id"] == action_id
        )
        integration = action["integration"]
        call = {
            "user_id": user,
            "user_name": user,
            "channel_id": message.channel,
            "team_id": "team1",
            "post_id": message.ref,
            "trigger_id": "t",
            "type": "",
            "data_source": "",
            "context": context if context is not None else integration["context"],
        }
        return requests.post(integration["url"], json=call, timeout=10)
