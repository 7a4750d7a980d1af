"""Act on a verified button press: map the chat user to a Vigil identity, approve or reject,
and have every chat message showing the request say who answered. A press on a request
whose wait already ended (expired, or its alert resolved) is told why and changes nothing.

Only users on the channel's `approvers` list with the operator role (or admin) may
answer; anyone else is told so privately and nothing runs. The approval itself is
app.automation's (its audit record names the approver and, in the comment, the chat user).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import ROLES
from app.automation import service as automation
from app.automation.models import Execution
from app.errors import ServiceError
from app.events import Event, publish
from app.notify.models import ChatMessage
from config.channels import ChannelConfig, MattermostChannel, SlackChannel
from config.schema import Config

ACTIONS = ("approve", "reject")
NEEDED_ROLE = "operator"


@dataclass(frozen=True)
class Answer:
    """What happened, and the line the pressing user is shown."""

    done: bool
    text: str


def approval_message(
    session: Session, channels: list[str], *, execution_id: int, chat_channel: str, ref: str
) -> ChatMessage | None:
    """The approval request Vigil posted as (chat_channel, ref) in one of these channels, if any:
    a button counts only on a message Vigil sent for this very execution."""
    return session.scalar(
        select(ChatMessage)
        .where(
            ChatMessage.role == "approval",
            ChatMessage.execution_id == execution_id,
            ChatMessage.channel.in_(channels),
            ChatMessage.chat_channel == chat_channel,
            ChatMessage.ref == ref,
        )
        .limit(1)
    )


def answer(
    session: Session,
    config: Config,
    *,
    channel: SlackChannel | MattermostChannel,
    chat_user: str,
    action: str,
    execution_id: int,
    now: datetime,
) -> Answer:
    """Approve or reject `execution_id` for the chat user, if they may."""
    approver = channel.approvers.get(chat_user)
    refusal = None
    if approver is None:
        refusal = "you are not on this channel's list of approvers"
    elif ROLES.index(approver.role) < ROLES.index(NEEDED_ROLE):
        refusal = f"answering approvals needs the {NEEDED_ROLE} role; yours is {approver.role}"
    if refusal is not None or approver is None:
        _refused(session, channel, chat_user, action, execution_id, refusal, now)
        return Answer(False, f"Vigil did not {action} execution #{execution_id}: {refusal}.")
    ended = _ended_wait(session, execution_id)
    if ended is not None:  # a button left on an old message: say why it no longer counts
        _refused(session, channel, chat_user, action, execution_id, ended, now)
        return Answer(False, f"Vigil did not {action} execution #{execution_id}: {ended}.")
    comment = f"from {channel.type} channel {channel.name} by chat user {chat_user}"
    try:  # the API's own approve / reject (as app.automation.api calls them), never forced from chat
        execution = getattr(automation, action)(
            session, execution_id=execution_id, by=approver.name, now=now, comment=comment
        )
    except ServiceError as exc:  # already answered, expired, stale: say why, change nothing
        return Answer(False, f"Vigil did not {action} execution #{execution_id}: {exc.message}")
    verb = "Approved" if action == "approve" else "Rejected"
    publish(
        session,
        [
            Event(
                "approval.answered",
                now,
                execution=execution,
                details={"outcome": verb.lower(), "text": f"{verb} by {approver.name}"},
            )
        ],
        config=config,
    )
    return Answer(True, f"{verb} execution #{execution_id} as {approver.name}.")


def _refused(
    session: Session,
    channel: ChannelConfig,
    chat_user: str,
    action: str,
    execution_id: int,
    reason: str | None,
    now: datetime,
) -> None:
    publish(
        session,
        [
            Event(
                "chat.refused",
                now,
                actor=f"{channel.type}:{chat_user}",
                target=f"execution:{execution_id}",
                details={"channel": channel.name, "action": action, "reason": reason},
            )
        ],
    )


def _ended_wait(session: Session, execution_id: int) -> str | None:
    """The reason a wait ended with nobody answering (expired, or its alert resolved), else None.
    Such a run can still be forced through the API, never from a chat button."""
    execution = session.get(Execution, execution_id)
    if execution is None or not (
        execution.state == "expired" or (execution.state == "cancelled" and execution.cancelled_by == "system")
    ):
        return None
    return execution.reason or execution.state


def refuse_privately(
    session: Session, channel: ChannelConfig, *, chat_channel: str, chat_user: str, text: str, now: datetime
) -> None:
    """Tell only the user who pressed (Slack answers button presses with nothing visible)."""
    publish(
        session,
        [
            Event(
                "chat.ephemeral",
                now,
                details={"channel": channel, "chat_channel": chat_channel, "user": chat_user, "text": text},
            )
        ],
    )
