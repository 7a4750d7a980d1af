"""Chat notification channels: where alerts and remediation events are sent.

YAML example (URLs and secrets come from the environment, never from the file)::

    channels:
      - type: slack
        name: ops
        url: ${SLACK_OPS_URL}
        events: [alert.firing, alert.resolved, remediation.failed]
        min_severity: warning
        matchers: {team: payments, env: "~prod|staging"}
      - type: generic
        name: pager-bridge
        url: ${BRIDGE_URL}
        secret: ${BRIDGE_HMAC_KEY}

Matchers compare alert labels by equality; a value starting with `~` is instead a Python
regular expression that must match the whole label value (`~prod|staging` matches
"prod" and "staging", not "preprod"), as Alertmanager's `=~` does. A label the alert does
not carry counts as the empty string, so `{team: ""}` selects alerts without a team. To
match a value that itself starts with `~`, write a regex: `~~literal`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator

from config import regex
from config.units import Duration

Event = Literal[
    "alert.firing",
    "alert.resolved",
    "remediation.started",
    "remediation.succeeded",
    "remediation.failed",
    "approval.requested",
    "breaker.opened",
]
EVENTS: tuple[Event, ...] = get_args(Event)
Severity = Literal["info", "warning", "critical"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]

_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
# The message contains "got " so config.loader does not echo the input: it is a secret.
_BAD_URL = "expected an http(s) webhook URL, got something else (not shown: it is a secret)"


class _Channel(BaseModel):
    """Fields every channel type shares; durations accept '10s', '4h' or seconds."""

    # hide_input_in_errors: str(ValidationError) would otherwise print the URL or secret.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: ChannelName
    url: SecretStr
    events: list[Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)
    min_severity: Severity = "info"
    matchers: dict[str, str] = Field(default_factory=dict)
    repeat_interval_s: Duration = Field(14400.0, ge=0)
    group_wait_s: Duration = Field(10.0, ge=0, le=3600)
    timeout_s: Duration = Field(10.0, gt=0, le=120)
    give_up_after_s: Duration = Field(3600.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:
        if not _HTTP_URL.match(url.get_secret_value()):
            raise ValueError(_BAD_URL)
        return url

    @field_validator("matchers")
    @classmethod
    def _valid_regexes(cls, matchers: dict[str, str]) -> dict[str, str]:
        for label, wanted in matchers.items():
            if wanted.startswith("~"):
                try:
                    regex.compile_label_regex(wanted[1:])
                except regex.RegexError as exc:
                    raise ValueError(f"label {label!r}: {wanted[1:]!r}: {exc}") from None
        return matchers


class SlackChannel(_Channel):
    """A Slack incoming webhook; messages are Block Kit."""

    type: Literal["slack"]


class MattermostChannel(_Channel):
    """A Mattermost incoming webhook; messages use Slack-style attachments."""

    type: Literal["mattermost"]


class TeamsChannel(_Channel):
    """A Microsoft Teams Workflows ("Post to a channel when a webhook request is received")
    URL; messages are Adaptive Cards 1.4 (the O365 connector MessageCard is retired)."""

    type: Literal["teams"]


class DiscordChannel(_Channel):
    """A Discord channel webhook; messages are embeds with mentions disabled."""

    type: Literal["discord"]


class GoogleChatChannel(_Channel):
    """A Google Chat space webhook; messages are cardsV2."""

    type: Literal["googlechat"]


class GenericChannel(_Channel):
    """Any HTTP endpoint: plain JSON, signed with HMAC-SHA256 (see app.notify.transport)."""

    type: Literal["generic"]
    secret: SecretStr = Field(min_length=16)


class AppriseChannel(_Channel):
    """Any service apprise knows (`tgram://…`, `mailto://…`, `json://…`): title and text only."""

    type: Literal["apprise"]

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:
        # apprise URLs have their own schemes; apprise itself judges them when sending.
        if "://" not in url.get_secret_value():
            raise ValueError("expected an apprise URL like 'tgram://…', got something else (not shown)")
        return url


ChannelConfig = Annotated[
    Union[
        SlackChannel,
        MattermostChannel,
        TeamsChannel,
        DiscordChannel,
        GoogleChatChannel,
        GenericChannel,
        AppriseChannel,
    ],
    Field(discriminator="type"),
]
CHANNEL_TYPES: tuple[str, ...] = ("slack", "mattermost", "teams", "discord", "googlechat", "generic", "apprise")
# mypy cannot see that an Annotated union is a type; pydantic documents this use.
_ADAPTER: TypeAdapter[ChannelConfig] = TypeAdapter(
    ChannelConfig, config=ConfigDict(hide_input_in_errors=True)  # type: ignore[arg-type]
)


def parse_channel(raw: Mapping[str, object]) -> ChannelConfig:
    """Validate one channel mapping (as read from YAML) into its typed model.

    Raises:
        pydantic.ValidationError: unknown type or key, or an invalid value.
    """
    return _ADAPTER.validate_python(raw)


def _label_matches(value: str, wanted: str) -> bool:
    if wanted.startswith("~"):
        return regex.fullmatch(wanted[1:], value)  # validated when the config was loaded
    return value == wanted


def matches(channel: ChannelConfig, *, event: str, severity: str, labels: Mapping[str, str]) -> bool:
    """Say whether a channel wants a notification about this event.

    Args:
        channel: the channel configuration.
        event: one of EVENTS, e.g. "alert.firing".
        severity: the alert's severity ("info", "warning" or "critical").
        labels: the alert's labels; every matcher must hold (see the module docstring).

    Returns:
        True when the event is subscribed, severity is at least min_severity and all
        matchers hold.

    Raises:
        ValueError: severity is not a known severity.
    """
    if severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}; expected one of {sorted(SEVERITY_RANK)}")
    if event not in channel.events or SEVERITY_RANK[severity] < SEVERITY_RANK[channel.min_severity]:
        return False
    return all(_label_matches(labels.get(k, ""), v) for k, v in channel.matchers.items())
