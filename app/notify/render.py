"""Render a Notification as the JSON body one chat service expects.

Each service has per-field and whole-message limits, and a message over them is rejected
outright (Slack `invalid_blocks`, Discord 400, Teams 413), so every text is truncated to
its field's limit and the whole body is checked against the service's total. A body that
is still too big (hundreds of grouped alerts, megabytes of script output) is rendered
again at the next smaller `_Level` until it fits.

Alert text is data: Slack's `<!channel>`, Mattermost's `@all` and Discord's `@everyone`
inside a label must not ping anyone, so text is escaped per service and Discord bodies
disable mention parsing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.notify.messages import (
    GOOD_EVENTS,
    AlertItem,
    Notification,
    alert_facts,
    alert_links,
    as_data,
    colour_of,
    emoji_of,
    evidence,
    href,
    label_text,
    links,
    output_end,
    remediation_facts,
    since,
    summary,
    timestamp,
    truncate,
    utc,
)

Body = dict[str, Any]

TEAMS_MAX_BYTES = 27_000  # Teams rejects > 28 KB; the Workflows envelope adds a little
GOOGLECHAT_MAX_BYTES = 30_000  # Google Chat: 32,000 bytes per message
MATTERMOST_MAX_CHARS = 16_383  # Mattermost's default post size
DISCORD_MAX_EMBED_CHARS = 6_000
SLACK_MAX_CHARS = 40_000  # Slack cuts message text past 40,000 characters
MAX_GENERIC_ALERTS = 1_000


@dataclass(frozen=True)
class _Level:
    """How much detail to render: alerts listed and a scale on every text limit."""

    max_alerts: int
    scale: float

    def chars(self, limit: int) -> int:
        return max(16, int(limit * self.scale))


_LEVELS = (_Level(10, 1.0), _Level(5, 0.5), _Level(3, 0.25), _Level(1, 0.1))


def encode(body: Body) -> bytes:
    """Serialise a body exactly as it is sent (UTF-8, compact), so sizes measured are real."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _shown(n: Notification, lv: _Level) -> tuple[Sequence[AlertItem], int]:
    return n.alerts[: lv.max_alerts], max(0, len(n.alerts) - lv.max_alerts)


def _more(n: Notification, more: int) -> str:
    return f"+{more} more alert{'s' if more > 1 else ''} of {n.alerts[0].detector}"


_BROKEN_FENCE = "`\u200b`\u200b`"


def _output(n: Notification, limit: int, *, fenced: bool = True, escape: Callable[[str], str] = str) -> str:
    """The end of the remediation's output within `limit`, in a ``` block when `fenced`.

    Escaping comes before cutting so the closing fence always survives; a fence inside
    the output gets zero-width spaces so it cannot close the block early.
    """
    if not n.remediation or not n.remediation.output_tail.strip():
        return ""
    if not fenced:
        return output_end(n.remediation, limit, escape)
    text = output_end(n.remediation, limit - 8, lambda t: escape(t).replace("```", _BROKEN_FENCE))
    return f"```\n{text}\n```"


def _text_chars(value: Any) -> int:
    """Count the characters of every string in a body (keys excluded)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_text_chars(v) for v in value.values())
    if isinstance(value, list):
        return sum(_text_chars(v) for v in value)
    return 0


# ---- Slack (Block Kit) -------------------------------------------------------------


def _slack_escape(text: str) -> str:
    # Slack's only control characters; escaping them also disarms <!channel> and <@U123>.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def _slack_alert(a: AlertItem, n: Notification, lv: _Level) -> Body:
    name = f"*{_slack_escape(a.detector)}*"
    if href(a.url):
        name = f"*<{a.url}|{_slack_escape(a.detector)}>*"
    text = name + (f"\n{_slack_escape(a.message)}" if a.message else "")
    if found := alert_links(a):  # href() has refused '|', '<' and '>', which would end the link
        text += "\n" + " · ".join(f"<{u}|{_slack_escape(t)}>" for t, u in found)
    fields = [_mrkdwn(f"*{k}*\n{_slack_escape(v)}", lv.chars(2000)) for k, v in alert_facts(a, n.created_at)]
    return {"type": "section", "text": _mrkdwn(text, lv.chars(3000)), "fields": fields[:10]}


def _slack(n: Notification, lv: _Level) -> Body:
    alerts, more = _shown(n, lv)
    blocks: list[Body] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(f"{emoji_of(n)} {n.title}", 150)}}
    ]
    blocks += [_slack_alert(a, n, lv) for a in alerts]
    if more:
        blocks.append({"type": "context", "elements": [_mrkdwn(_slack_escape(_more(n, more)), 300)]})
    if n.remediation:
        facts = [_mrkdwn(f"*{k}*\n{_slack_escape(v)}", 2000) for k, v in remediation_facts(n.remediation)]
        blocks.append({"type": "section", "fields": facts})
        if output := _output(n, lv.chars(3000), escape=_slack_escape):
            blocks.append({"type": "section", "text": _mrkdwn(output, 3000)})
    if buttons := links(n):
        elements = [{"type": "button", "text": {"type": "plain_text", "text": t}, "url": u} for t, u in buttons]
        blocks.append({"type": "actions", "elements": elements})
    footer = f"Vigil · {n.event} · {timestamp(n.created_at)}"
    blocks.append({"type": "context", "elements": [_mrkdwn(_slack_escape(footer), 300)]})
    return {"text": truncate(_slack_escape(summary(n)), 3000), "blocks": blocks}


# ---- Mattermost (Slack-compatible attachments, Markdown) ----------------------------


def _md_links(a: AlertItem, escape: Callable[[str], str] = str) -> str:
    """The alert's own links as Markdown; brackets in a URL are encoded so they cannot end it."""
    return " · ".join(
        f"[{escape(t).replace('[', '(').replace(']', ')')}]({u.replace('(', '%28').replace(')', '%29')})"
        for t, u in alert_links(a)
    )


def _mm_escape(text: str) -> str:
    # A zero-width space after '@' keeps @all/@channel/@here/@someone from notifying.
    return text.replace("@", "@\u200b")


def _mattermost(n: Notification, lv: _Level) -> Body:
    alerts, more = _shown(n, lv)
    parts = []
    for a in alerts:
        name = f"[{_mm_escape(a.detector)}]({a.url})" if href(a.url) else _mm_escape(a.detector)
        lines = [evidence(a), f"since {since(a, n.created_at)}", _mm_escape(a.message), _md_links(a, _mm_escape)]
        lines.insert(0, f"**{name}** `{_mm_escape(label_text(a.labels))}`")
        parts.append(truncate("\n".join(x for x in lines if x), lv.chars(2000)))
    if more:
        parts.append(f"_{_mm_escape(_more(n, more))}_")
    # Alerts and output get separate budgets so a long alert list never cuts the output's fence.
    text = truncate("\n\n".join(parts), lv.chars(8000))
    fields = []
    if n.remediation:
        facts = remediation_facts(n.remediation)
        fields = [{"short": True, "title": k, "value": truncate(_mm_escape(v), 500)} for k, v in facts]
        text = "\n\n".join(x for x in (text, _output(n, lv.chars(6000), escape=_mm_escape)) if x)
    attachment = {
        "fallback": truncate(_mm_escape(summary(n)), 500),
        "color": colour_of(n),
        "title": truncate(_mm_escape(f"{emoji_of(n)} {n.title}"), 500),
        "text": text,
        "fields": fields,
        "footer": f"Vigil · {n.event}",
        "ts": int(utc(n.created_at).timestamp()),
    }
    if buttons := links(n):
        attachment["title_link"] = buttons[-1][1]
    return {"text": "", "attachments": [attachment]}


# ---- Microsoft Teams (Workflows webhook, Adaptive Card 1.4) -------------------------

_TEAMS_COLOUR = {"critical": "Attention", "warning": "Warning", "info": "Accent"}


def _text_block(text: str, limit: int, **style: Any) -> Body:
    return {"type": "TextBlock", "text": truncate(text, limit), "wrap": True, **style}


def _fact_set(facts: list[tuple[str, str]], limit: int) -> Body:
    return {"type": "FactSet", "facts": [{"title": k, "value": truncate(v, limit)} for k, v in facts]}


def _teams(n: Notification, lv: _Level) -> Body:
    alerts, more = _shown(n, lv)
    colour = "Good" if n.event in GOOD_EVENTS else _TEAMS_COLOUR.get(n.severity, "Accent")
    body: list[Body] = [
        _text_block(f"{emoji_of(n)} {n.title}", 300, size="Large", weight="Bolder", color=colour),
        _text_block(f"{n.event} · {timestamp(n.created_at)}", 200, isSubtle=True, spacing="None"),
    ]
    for a in alerts:
        body.append(_text_block(a.detector, 200, weight="Bolder", separator=True))
        if a.message:
            body.append(_text_block(a.message, lv.chars(2000)))
        body.append(_fact_set(alert_facts(a, n.created_at), lv.chars(1000)))
        if alert_links(a):
            body.append(_text_block(_md_links(a), lv.chars(2000)))
    if more:
        body.append(_text_block(_more(n, more), 300, isSubtle=True))
    if n.remediation:
        body.append(_fact_set(remediation_facts(n.remediation), 500) | {"separator": True})
        if output := _output(n, lv.chars(8000), fenced=False):
            body.append(_text_block(output, lv.chars(8000), fontType="Monospace"))
    card: Body = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": t, "url": u} for t, u in links(n)],
        "msteams": {"width": "Full"},
    }
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    return {"type": "message", "attachments": [attachment]}


# ---- Discord (embed, mentions disabled) ---------------------------------------------


def _discord(n: Notification, lv: _Level) -> Body:
    alerts, more = _shown(n, lv)
    fields: list[Body] = []
    for a in alerts:
        lines = [evidence(a), f"since {since(a, n.created_at)}", a.message, _md_links(a)]
        if href(a.url):
            lines.append(f"[open alert]({a.url})")
        name = truncate(f"{a.detector} {{{label_text(a.labels)}}}", lv.chars(256))
        fields.append({"name": name, "value": truncate("\n".join(x for x in lines if x), lv.chars(1024))})
    if n.remediation:
        facts = remediation_facts(n.remediation)
        fields += [{"name": k, "value": truncate(v, lv.chars(1024)), "inline": True} for k, v in facts]
    description = "\n".join(x for x in (_more(n, more) if more else "", _output(n, lv.chars(4000))) if x)
    embed: Body = {
        "title": truncate(f"{emoji_of(n)} {n.title}", 256),
        "description": truncate(description, 4096),
        "color": int(colour_of(n).lstrip("#"), 16),
        "timestamp": utc(n.created_at).isoformat(),
        "fields": fields[:25],
        "footer": {"text": f"Vigil · {n.event}"},
    }
    if buttons := links(n):
        embed["url"] = buttons[-1][1]
    # parse: [] — no text in this message may ping @everyone, @here, a role or a user.
    return {"content": truncate(summary(n), 2000), "embeds": [embed], "allowed_mentions": {"parse": []}}


def discord_embed_chars(body: Body) -> int:
    """Count what Discord counts against its 6,000-character total across a message's embeds."""
    total = 0
    for embed in body.get("embeds", []):
        texts = [embed.get("title", ""), embed.get("description", ""), embed.get("footer", {}).get("text", "")]
        texts += [f[key] for f in embed.get("fields", []) for key in ("name", "value")]
        total += sum(len(t.encode("utf-16-le")) // 2 for t in texts)
    return total


# ---- Google Chat (cardsV2) ----------------------------------------------------------


def _chat_html(text: str, limit: int) -> str:
    # Card text is an HTML subset; escaping also keeps <users/all> from pinging the space.
    return html.escape(truncate(text, limit), quote=False).replace("\n", "<br>")


def _chat_alert(a: AlertItem, n: Notification, lv: _Level) -> Body:
    text = "<br>".join(_chat_html(x, lv.chars(1000)) for x in (evidence(a) or a.state, a.message) if x)
    if found := alert_links(a):
        text += "<br>" + " · ".join(f'<a href="{html.escape(u)}">{html.escape(t)}</a>' for t, u in found)
    below = _chat_html(f"since {since(a, n.created_at)} · {label_text(a.labels)}", lv.chars(1000))
    top = _chat_html(a.detector, 200)
    return {"decoratedText": {"topLabel": top, "text": text, "bottomLabel": below, "wrapText": True}}


def _googlechat(n: Notification, lv: _Level) -> Body:
    alerts, more = _shown(n, lv)
    widgets = [_chat_alert(a, n, lv) for a in alerts]
    if more:
        widgets.append({"textParagraph": {"text": f"<i>{_chat_html(_more(n, more), 300)}</i>"}})
    sections: list[Body] = [{"widgets": widgets}] if widgets else []
    if n.remediation:
        facts = remediation_facts(n.remediation)
        rows: list[Body] = [{"decoratedText": {"topLabel": k, "text": _chat_html(v, 500)}} for k, v in facts]
        if output := _output(n, lv.chars(8000), fenced=False):
            rows.append(
                {"textParagraph": {"text": f'<font color="#5f6368">{_chat_html(output, lv.chars(8000))}</font>'}}
            )
        sections.append({"header": "Remediation", "widgets": rows})
    if buttons := links(n):
        items = [{"text": t, "onClick": {"openLink": {"url": u}}} for t, u in buttons]
        sections.append({"widgets": [{"buttonList": {"buttons": items}}]})
    if not sections:  # a card needs at least one section
        sections.append({"widgets": [{"textParagraph": {"text": _chat_html(n.title, 1000)}}]})
    header = {"title": truncate(f"{emoji_of(n)} {n.title}", 200), "subtitle": f"{n.event} · {timestamp(n.created_at)}"}
    card = {"cardId": f"vigil-{n.event}", "card": {"header": header, "sections": sections}}
    text = truncate(summary(n).replace("<", "‹").replace(">", "›"), 1000)
    return {"text": text, "cardsV2": [card]}


# ---- generic JSON and apprise -------------------------------------------------------


def _generic(n: Notification, lv: _Level) -> Body:
    """The documented machine-readable body (transport adds `sent_at` when it sends):

    {"version": 1, "event", "title", "severity", "created_at", "alerts": [{alert_id,
    detector, severity, state, labels, value, threshold, message, started_at,
    change_points, before, after, url, links: [[title, url]]}], "alerts_total", "remediation": {name, version,
    outcome, duration_s, output_tail, execution_id, url} | null}. Alerts are listed in
    full up to MAX_GENERIC_ALERTS; `alerts_total` says how many there were.
    """
    remediation = as_data(n.remediation)
    if remediation:
        remediation["output_tail"] = output_end(n.remediation, lv.chars(16_000))
    return {
        "version": 1,
        "event": n.event,
        "title": n.title,
        "severity": n.severity,
        "created_at": as_data(n.created_at),
        "alerts": [as_data(a) for a in n.alerts[:MAX_GENERIC_ALERTS]],
        "alerts_total": len(n.alerts),
        "remediation": remediation,
    }


def _apprise(n: Notification, lv: _Level) -> Body:
    """Title, Markdown text and an apprise notify type: all apprise can carry."""
    alerts, more = _shown(n, lv)
    lines = [
        f"**{a.detector}** {label_text(a.labels)}: {evidence(a) or a.state}, since {since(a, n.created_at)}"
        + (f"\n{a.message}" if a.message else "")
        + (f"\n{_md_links(a)}" if a.links else "")
        for a in alerts
    ]  # the message: e.g. the top suspects
    lines += [_more(n, more)] if more else []
    if n.remediation:
        lines += [", ".join(f"{k}: {v}" for k, v in remediation_facts(n.remediation)), _output(n, lv.chars(1500))]
    kind = (
        "success" if n.event in GOOD_EVENTS else {"critical": "failure", "warning": "warning"}.get(n.severity, "info")
    )
    body = truncate("\n".join(x for x in lines if x) or n.event, lv.chars(4000))
    return {"title": truncate(f"{emoji_of(n)} {n.title}", 250), "body": body, "type": kind}


_RENDERERS: dict[str, tuple[Callable[[Notification, _Level], Body], Callable[[Body], bool]]] = {
    "slack": (_slack, lambda b: len(b["blocks"]) <= 50 and _text_chars(b) <= SLACK_MAX_CHARS),
    "mattermost": (_mattermost, lambda b: _text_chars(b) <= MATTERMOST_MAX_CHARS),
    "teams": (_teams, lambda b: len(encode(b)) <= TEAMS_MAX_BYTES),
    "discord": (_discord, lambda b: discord_embed_chars(b) <= DISCORD_MAX_EMBED_CHARS),
    "googlechat": (_googlechat, lambda b: len(encode(b)) <= GOOGLECHAT_MAX_BYTES),
    "generic": (_generic, lambda b: True),
    "apprise": (_apprise, lambda b: True),
}


def render(channel_type: str, n: Notification) -> Body:
    """Render a notification as the JSON body to POST to one kind of channel.

    Args:
        channel_type: a channel `type` from config.channels ("slack", "teams", ...).
        n: what to say.

    Returns:
        The body as a JSON-ready dict, within the service's limits. For "apprise" it is
        {"title", "body", "type"}, which transport hands to apprise rather than POSTing.

    Raises:
        ValueError: channel_type is not a known channel type.
    """
    try:
        build, fits = _RENDERERS[channel_type]
    except KeyError:
        known = sorted(_RENDERERS)
        raise ValueError(f"no renderer for channel type {channel_type!r}; expected one of {known}") from None
    for level in _LEVELS:
        body = build(n, level)
        if fits(body):
            break
    # The smallest level fits every service by construction (tests render worst cases).
    # `generic` always fits: it has no size limit, only MAX_GENERIC_ALERTS.
    return body
