"""Bot channels in the configuration, and Slack's request signature."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.chat.verify import CallbackRefusedError, slack_channels, slack_signature
from config.channels import parse_channel

BOT = {"type": "slack", "name": "ops", "token": "xoxb-1-secret", "channel": "C123"}


def test_slack_signatures_match_slacks_documented_example() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    assert (
        slack_signature("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body)
        == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


def test_a_signature_is_checked_against_each_slack_channels_secret() -> None:
    a = parse_channel({**BOT, "name": "a", "signing_secret": "a" * 32})
    b = parse_channel({**BOT, "name": "b", "signing_secret": "b" * 32})
    signature = slack_signature("b" * 32, "1000", b"x=1")
    assert slack_channels([a, b], timestamp="1000", signature=signature, body=b"x=1", now=1000) == [b]
    with pytest.raises(CallbackRefusedError) as refused:
        slack_channels([a, b], timestamp="1000", signature=signature, body=b"x=2", now=1000)
    assert refused.value.reason == "bad_signature"
    for stamp, now in (("1000", 1301), ("1000", 699), ("", 1000), ("1e3", 1000)):
        with pytest.raises(CallbackRefusedError):
            slack_channels([b], timestamp=stamp, signature=signature, body=b"x=1", now=now)


def test_a_bot_channel_needs_a_token_and_a_channel_instead_of_a_url() -> None:
    channel = parse_channel(BOT)
    assert channel.threaded and channel.url is None and channel.api_url == "https://slack.com/api"
    assert not parse_channel({"type": "slack", "name": "hook", "url": "https://hooks.slack.com/x"}).threaded


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"type": "slack", "name": "ops"}, "either url"),
        ({**BOT, "url": "https://hooks.slack.com/x"}, "either url"),
        ({"type": "slack", "name": "ops", "token": "t"}, "needs `channel`"),
        ({"type": "mattermost", "name": "mm", "token": "t", "channel": "c"}, "needs `api_url`"),
        ({**BOT, "approvers": {"U1": {"name": "alice", "role": "operator"}}}, "callback secret"),
        ({**BOT, "signing_secret": "short"}, "at least 16"),
        ({**BOT, "signing_secret": "s" * 20, "approvers": {"U1": {"name": "alice", "role": "root"}}}, "role"),
        ({"type": "generic", "name": "g", "secret": "s" * 20}, "url: required"),
    ],
)
def test_it_refuses_incomplete_bot_channels(raw, fragment) -> None:
    with pytest.raises(ValidationError) as error:
        parse_channel(raw)
    assert fragment in str(error.value)


def test_bot_secrets_never_show_in_a_repr() -> None:
    channel = parse_channel({**BOT, "signing_secret": "signing-secret-value-0123"})
    assert "xoxb-1-secret" not in repr(channel) and "signing-secret-value" not in repr(channel)
    assert set(channel.secrets()) == {"xoxb-1-secret", "signing-secret-value-0123"}
