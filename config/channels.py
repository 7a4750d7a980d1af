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

Matchers compare alert labels by equality; a value starting with `~` is instead an RE2
regular expression that must match the whole label value (`~prod|staging` matches
"prod" and "staging", not "preprod"), as Alertmanager's `=~` does. A label the alert does
not carry counts as the empty string, so `{team: ""}` selects alerts without a team: the
one rule of config.matchers, shared with silences, bindings and the alert filters. To
match a value that itself starts with `~`, write a regex: `~~literal`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, field_validator, model_validator

from config import matchers as label_matchers
from config.units import Duration

Event = Literal[
    "alert.firing",
    "alert.resolved",
    "alert.diagnosed",  # the diagnosis' top suspects (README "Diagnostics")
    "remediation.started",
    "remediation.succeeded",
    "remediation.failed",
    "approval.requested",
    "diagnostic.output",  # a diagnostic binding's script output
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
    url: SecretStr | None = None  # required, except by a Slack or Mattermost bot (see _BotChannel)
    events: list[Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)
    min_severity: Severity = "info"
    matchers: dict[str, str] = Field(default_factory=dict)
    repeat_interval_s: Duration = Field(14400.0, ge=0)
    group_wait_s: Duration = Field(10.0, ge=0, le=3600)
    timeout_s: Duration = Field(10.0, gt=0, le=120)
    give_up_after_s: Duration = Field(3600.0, gt=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and not _HTTP_URL.match(url.get_secret_value()):
            raise ValueError(_BAD_URL)
        return url

    @model_validator(mode="after")
    def _has_url(self) -> "_Channel":
        if self.url is None:
            raise ValueError("url: required")
        return self

    @property
    def threaded(self) -> bool:
        """Whether this channel posts through a bot token: one message per alert, updated in
        place, with the alert's later events in its thread."""
        return False

    def secrets(self) -> list[str]:
        """Every secret value of the channel (to redact from any text shown)."""
        return [s.get_secret_value() for s in (self.url,) if s is not None]

    @field_validator("matchers")
    @classmethod
    def _valid_regexes(cls, matchers: dict[str, str]) -> dict[str, str]:
        label_matchers.from_map(matchers)  # MatcherError is a ValueError: pydantic reports it
        return matchers


class Approver(BaseModel):
    """The Vigil identity and role of a chat user who may answer approval requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")]
    role: Literal["viewer", "operator", "admin"]


ChatUserId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class _BotChannel(_Channel):
    """A chat service reached by an incoming webhook (`url`) or by a bot `token`.

    With a token, each alert is one message updated in place (firing -> remediating ->
    resolved) and its later events go to that message's thread; with a callback secret
    as well, approval requests carry Approve / Reject buttons that `approvers` (chat user
    id -> Vigil name and role; operator or admin needed) may press.
    """

    token: SecretStr | None = None
    channel: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None
    approvers: dict[ChatUserId, Approver] = Field(default_factory=dict)

    @property
    def threaded(self) -> bool:
        return self.token is not None

    def callback_secret(self) -> SecretStr | None:
        """The secret that authenticates button callbacks (None: no buttons)."""
        return None

    def secrets(self) -> list[str]:
        found = [self.url, self.token, self.callback_secret()]
        return [s.get_secret_value() for s in found if s is not None]

    @model_validator(mode="after")
    def _has_url(self) -> "_BotChannel":  # replaces _Channel's: a bot needs no url
        if (self.url is None) == (self.token is None):
            raise ValueError("set either url (an incoming webhook) or token (a bot), not both or neither")
        if self.token is not None and self.channel is None:
            raise ValueError("a bot token needs `channel`: the id of the channel to post in")
        if self.callback_secret() is not None and self.token is None:
            raise ValueError("approval buttons need a bot token (they update the message they answer)")
        if self.approvers and self.callback_secret() is None:
            raise ValueError("approvers need the callback secret that authenticates their button presses")
        return self


class SlackChannel(_BotChannel):
    """Slack: an incoming webhook `url`, or a bot `token` (xoxb-…) with `channel` (C123…),
    posting Block Kit through the Web API at `api_url`. `signing_secret` (the Slack app's)
    turns on Approve / Reject buttons, whose callbacks it verifies."""

    type: Literal["slack"]
    api_url: Annotated[str, Field(pattern=r"^https?://[^\s/?#]+[^\s?#]*$")] = "https://slack.com/api"
    signing_secret: SecretStr | None = Field(None, min_length=16)

    def callback_secret(self) -> SecretStr | None:
        return self.signing_secret


class MattermostChannel(_BotChannel):
    """Mattermost: an incoming webhook `url`, or a bot `token` with `channel` (a channel
    id) posting through the REST API of the server at `api_url`. `action_secret` turns on
    Approve / Reject buttons: Mattermost sends it back in each button's context."""

    type: Literal["mattermost"]
    api_url: Annotated[str, Field(pattern=r"^https?://[^\s/?#]+[^\s?#]*$")] | None = None
    action_secret: SecretStr | None = Field(None, min_length=16)

    def callback_secret(self) -> SecretStr | None:
        return self.action_secret

    @model_validator(mode="after")
    def _server(self) -> "MattermostChannel":
        if self.token is not None and self.api_url is None:
            raise ValueError("a bot token needs `api_url`: the Mattermost server, e.g. https://chat.example.com")
        return self


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

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.secret.get_secret_value()]


class AppriseChannel(_Channel):
    """Any service apprise knows (`tgram://…`, `mailto://…`, `json://…`): title and text only."""

    type: Literal["apprise"]

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr | None) -> SecretStr | None:
        # apprise URLs have their own schemes; apprise itself judges them when sending.
        if url is not None and "://" not in url.get_secret_value():
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
    ChannelConfig,  # type: ignore[arg-type]
    config=ConfigDict(hide_input_in_errors=True),
)


def parse_channel(raw: Mapping[str, object]) -> ChannelConfig:
    """Validate one channel mapping (as read from YAML) into its typed model.

    Raises:
        pydantic.ValidationError: unknown type or key, or an invalid value.
    """
    return _ADAPTER.validate_python(raw)


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
    # Validated when the config was loaded.
    return label_matchers.matches(label_matchers.from_stored_map(channel.matchers), labels)
