"""Who really sent a button press: Slack's request signature, Mattermost's action token.

Slack signs each request with the app's signing secret: `X-Slack-Signature` is
`v0=` + hex(HMAC-SHA256(secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body)).
A timestamp more than five minutes away is refused, so a captured request cannot be
replayed later, and a new timestamp does not match the old signature. Mattermost sends
back the context Vigil put on the button, with the channel's `action_secret` in it.
Every comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from config.channels import ChannelConfig, MattermostChannel, SlackChannel

MAX_SKEW_S = 300


class CallbackRefusedError(Exception):
    """The callback is not authentic; `reason` is safe to show and to count in metrics."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message, self.reason = message, reason


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` Slack sends with `body` at `timestamp`."""
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + mac.hexdigest()


def slack_channels(
    channels: Sequence[ChannelConfig], *, timestamp: str, signature: str, body: bytes, now: float
) -> list[SlackChannel]:
    """The Slack channels whose signing secret signed this request (several may share one app).

    Raises:
        CallbackRefusedError: no timestamp, one over MAX_SKEW_S away, or no secret matches.
    """
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise CallbackRefusedError("X-Slack-Request-Timestamp is missing or not unix seconds", "bad_timestamp")
    if abs(now - int(timestamp)) > MAX_SKEW_S:
        raise CallbackRefusedError(
            f"X-Slack-Request-Timestamp is more than {MAX_SKEW_S}s away: a stale or replayed request", "stale_timestamp"
        )
    given = signature.encode("utf-8", "replace")
    found = [
        c
        for c in channels
        if isinstance(c, SlackChannel)
        and c.signing_secret is not None
        and hmac.compare_digest(slack_signature(c.signing_secret.get_secret_value(), timestamp, body).encode(), given)
    ]
    if not found:
        raise CallbackRefusedError(
            "X-Slack-Signature does not match any Slack channel's signing secret", "bad_signature"
        )
    return found


def mattermost_channel(channels: Sequence[ChannelConfig], *, name: object, token: object) -> MattermostChannel:
    """The Mattermost channel named in a button's context, if the context holds its action secret.

    Raises:
        CallbackRefusedError: no such channel with buttons, or the wrong token.
    """
    channel = next(
        (c for c in channels if isinstance(c, MattermostChannel) and c.name == name and c.action_secret is not None),
        None,
    )
    expected = channel.action_secret.get_secret_value().encode() if channel and channel.action_secret else b""
    given = token.encode("utf-8", "replace") if isinstance(token, str) else b""
    # Compared even when the channel is unknown, so the answer's timing says nothing about names.
    ok = hmac.compare_digest(expected or b"\0" * 32, given)
    if channel is None or not ok:
        raise CallbackRefusedError(
            "the action's context does not carry a Mattermost channel's action secret", "bad_token"
        )
    return channel
