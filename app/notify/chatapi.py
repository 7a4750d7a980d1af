"""Post and update messages through a chat service's bot API (Slack Web API, Mattermost REST).

Only channels with a bot `token` come here; incoming webhooks stay in transport.py. Each
call makes one attempt and answers a Delivery like transport.send, so the sender's retry
schedule applies unchanged. The token travels only in the Authorization header and is
redacted from any error text.

Slack answers most failures with HTTP 200 and `{"ok": false, "error": "..."}`: those are
permanent (a bad token, an unknown channel, invalid blocks) except the few that say the
service is busy or broken for a moment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

from app.notify.delivery import USER_AGENT, Delivery, classify, redact
from app.notify.render import encode
from config.channels import ChannelConfig, MattermostChannel, SlackChannel

MAX_ANSWER_BYTES = 256 * 1024  # a chat API's answer to one post is a few KB
_SLACK_TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})


@dataclass(frozen=True)
class Posted:
    """The outcome of posting a message, and where it now lives when it worked."""

    delivery: Delivery
    chat_channel: str | None = None
    ref: str | None = None  # Slack: the message's ts; Mattermost: the post id


def post(
    channel: ChannelConfig, body: dict[str, Any], *, thread: str | None, http: requests.Session, now: datetime
) -> Posted:
    """Post a rendered body (render(channel.type, ...)) as a new message, in `thread` if given."""
    if isinstance(channel, SlackChannel):
        payload = {"channel": channel.channel, **body, "unfurl_links": False, "unfurl_media": False}
        if thread:
            payload["thread_ts"] = thread
        delivery, answer = _call(channel, "POST", f"{channel.api_url.rstrip('/')}/chat.postMessage", payload, http, now)
        return _posted(channel, delivery, answer.get("channel"), answer.get("ts"))
    assert isinstance(channel, MattermostChannel) and channel.api_url  # only threaded channels come here
    payload = {"channel_id": channel.channel, **_mattermost_post(body)}
    if thread:
        payload["root_id"] = thread
    delivery, answer = _call(channel, "POST", f"{channel.api_url.rstrip('/')}/api/v4/posts", payload, http, now)
    return _posted(channel, delivery, answer.get("channel_id"), answer.get("id"))


def _posted(channel: ChannelConfig, delivery: Delivery, chat_channel: Any, ref: Any) -> Posted:
    if not delivery.ok:
        return Posted(delivery)
    if not isinstance(chat_channel, str) or not isinstance(ref, str) or not ref or len(ref) > 64:
        # Posted, but it cannot be threaded or updated: sending it again would only duplicate it.
        error = f'{channel.type} channel "{channel.name}" answered a post without its channel and id'
        return Posted(Delivery(ok=False, status=delivery.status, error=error, permanent=True))
    return Posted(delivery, chat_channel[:64], ref)


def update(
    channel: ChannelConfig, *, chat_channel: str, ref: str, body: dict[str, Any], http: requests.Session, now: datetime
) -> Delivery:
    """Replace the text of a message posted before (chat.update / PUT posts/{id}/patch)."""
    if isinstance(channel, SlackChannel):
        payload = {"channel": chat_channel, "ts": ref, **body}
        return _call(channel, "POST", f"{channel.api_url.rstrip('/')}/chat.update", payload, http, now)[0]
    assert isinstance(channel, MattermostChannel) and channel.api_url
    url = f"{channel.api_url.rstrip('/')}/api/v4/posts/{ref}/patch"
    return _call(channel, "PUT", url, _mattermost_post(body), http, now)[0]


def ephemeral(
    channel: ChannelConfig, *, chat_channel: str, user: str, text: str, http: requests.Session, now: datetime
) -> Delivery:
    """Show `text` to one user only (a refusal to someone who may not answer)."""
    if isinstance(channel, SlackChannel):
        slack = {"channel": chat_channel, "user": user, "text": text}
        return _call(channel, "POST", f"{channel.api_url.rstrip('/')}/chat.postEphemeral", slack, http, now)[0]
    assert isinstance(channel, MattermostChannel) and channel.api_url
    mattermost = {"user_id": user, "post": {"channel_id": chat_channel, "message": text}}
    return _call(channel, "POST", f"{channel.api_url.rstrip('/')}/api/v4/posts/ephemeral", mattermost, http, now)[0]


def _mattermost_post(body: dict[str, Any]) -> dict[str, Any]:
    """A webhook-shaped body ({text, attachments}) as the posts API wants it."""
    return {"message": body.get("text", ""), "props": {"attachments": body.get("attachments", [])}}


def _call(
    channel: ChannelConfig, method: str, url: str, payload: dict[str, Any], http: requests.Session, now: datetime
) -> tuple[Delivery, dict[str, Any]]:
    token = (
        channel.token.get_secret_value()
        if isinstance(channel, (SlackChannel, MattermostChannel)) and channel.token
        else ""
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
    }
    where = f'{channel.type} channel "{channel.name}"'
    try:
        with http.request(
            method,
            url,
            data=encode(payload),
            headers=headers,
            timeout=channel.timeout_s,
            allow_redirects=False,
            stream=True,
        ) as response:
            if not 200 <= response.status_code < 300:
                return classify(channel, response, now), {}
            raw = response.raw.read(MAX_ANSWER_BYTES, decode_content=True) or b""
    # As in transport: messages are built here, never from the exception (it may hold the URL).
    except requests.Timeout:
        return Delivery(ok=False, error=f"timed out after {channel.timeout_s:g}s calling {where}"), {}
    except requests.RequestException as exc:
        return Delivery(ok=False, error=f"{type(exc).__name__} calling {where}"), {}
    try:
        answer = json.loads(raw)
    except ValueError:
        return Delivery(ok=False, status=response.status_code, error=f"{where} answered something not JSON"), {}
    if not isinstance(answer, dict):
        return Delivery(ok=False, status=response.status_code, error=f"{where} answered something not an object"), {}
    if isinstance(channel, SlackChannel) and answer.get("ok") is not True:
        code = redact(str(answer.get("error") or "unknown_error"), channel)[:100]
        return Delivery(
            ok=False,
            status=response.status_code,
            error=f"{where} answered error {code}",
            permanent=code not in _SLACK_TRANSIENT,
        ), {}
    return Delivery(ok=True, status=response.status_code), answer
