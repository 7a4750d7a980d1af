"""Rendering: each service's body has the shape it documents and stays within its limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from app.notify.render import discord_embed_chars, encode, render
from tests.unit.notify.notify_builders import ALL_TYPES, alert, grouped, notification, remediation, worst_case


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def strings(value: Any) -> list[str]:
    """Every string value in a body, however deeply nested."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@pytest.fixture(scope="module")
def worst() -> Any:
    return worst_case()


# ---- Slack ------------------------------------------------------------------------


def assert_valid_slack(body: dict[str, Any]) -> None:
    assert body["text"] and utf16_len(body["text"]) <= 3000
    assert 1 <= len(body["blocks"]) <= 50
    for raw in body["blocks"]:
        Block.parse(raw).validate_json()  # raises SlackObjectFormationError over a limit
        if raw["type"] == "header":
            assert utf16_len(raw["text"]["text"]) <= 150
        if raw["type"] == "section":
            assert utf16_len(raw.get("text", {}).get("text", "")) <= 3000
            assert len(raw.get("fields", [])) <= 10
            assert all(utf16_len(f["text"]) <= 2000 for f in raw.get("fields", []))


def test_slack_shows_the_alert_in_block_kit():
    body = render("slack", notification())
    assert_valid_slack(body)
    header, section, actions, context = body["blocks"]
    assert header["text"]["text"] == "🔴 [FIRING] api-latency"
    assert section["text"]["text"] == "*<https://vigil.example/alerts/42|api-latency>*\np99 latency above threshold"
    facts = [f["text"] for f in section["fields"]]
    assert "*Evidence*\nvalue 0.934 vs threshold 0.8" in facts
    assert "*Started*\n2024-05-01 12:03:00 UTC (for 5m 00s)" in facts
    assert "*Labels*\ninstance=10.0.0.1:9090, job=api" in facts
    assert actions["elements"][0]["url"] == "https://vigil.example/alerts/42"
    assert "alert.firing" in context["elements"][0]["text"]


def test_slack_shows_a_remediation_with_its_output_in_a_code_block():
    body = render("slack", notification(event="remediation.failed", remediation=remediation()))
    assert_valid_slack(body)
    texts = strings(body["blocks"])
    assert "*Remediation*\nrestart-api v3" in texts and "*Outcome*\nfailed" in texts and "*Duration*\n12.3s" in texts
    assert "```\nrestarting api\nerror: unit api.service not found\n```" in texts


def test_slack_text_cannot_ping_the_channel():
    body = render("slack", notification(alerts=[alert(labels={"owner": "<!channel> <@U123>"}, message="<!here>")]))
    joined = json.dumps(body)
    assert "<!channel>" not in joined and "<!here>" not in joined and "<@U123>" not in joined
    assert "&lt;!channel&gt;" in joined


def test_output_cannot_close_its_code_block_early():
    body = render("slack", notification(remediation=remediation(output_tail="a\n```\n*bold*")))
    output = body["blocks"][-3]["text"]["text"]
    assert output.startswith("```\n") and output.endswith("\n```") and output.count("```") == 2


def test_slack_lists_ten_of_500_grouped_alerts_and_counts_the_rest():
    body = render("slack", grouped(500))
    assert_valid_slack(body)
    sections = [b for b in body["blocks"] if b["type"] == "section"]
    assert len(sections) == 10
    assert "+490 more alerts of api-latency" in strings(body["blocks"])


def test_slack_stays_within_limits_in_the_worst_case(worst):
    assert_valid_slack(render("slack", worst))


# ---- Mattermost -------------------------------------------------------------------


def test_mattermost_uses_a_coloured_attachment_with_markdown():
    body = render("mattermost", notification(remediation=remediation()))
    (attachment,) = body["attachments"]
    assert attachment["color"] == "#D32F2F"
    assert attachment["title"] == "🔴 [FIRING] api-latency"
    assert "**[api-latency](https://vigil.example/alerts/42)** `instance=10.0.0.1:9090, job=api`" in attachment["text"]
    assert {"short": True, "title": "Outcome", "value": "failed"} in attachment["fields"]
    assert attachment["ts"] == 1714565280


def test_mattermost_text_cannot_mention_everyone():
    body = render("mattermost", notification(alerts=[alert(message="ping @all and @channel")]))
    assert "@all" not in json.dumps(body, ensure_ascii=False)


def test_mattermost_stays_within_its_post_size_in_the_worst_case(worst):
    body = render("mattermost", worst)
    assert sum(len(s) for s in strings(body)) <= 16383
    assert body["attachments"][0]["text"].endswith("\n```")


# ---- Microsoft Teams ---------------------------------------------------------------


def test_teams_sends_an_adaptive_card_in_a_workflows_message():
    body = render("teams", notification(remediation=remediation()))
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert {element["type"] for element in card["body"]} == {"TextBlock", "FactSet"}
    assert card["body"][0]["text"] == "🔴 [FIRING] api-latency" and card["body"][0]["color"] == "Attention"
    facts = [f for element in card["body"] if element["type"] == "FactSet" for f in element["facts"]]
    assert {"title": "Evidence", "value": "value 0.934 vs threshold 0.8"} in facts
    assert card["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Open execution",
        "url": "https://vigil.example/executions/7",
    }
    assert "@type" not in json.dumps(body)  # not the retired O365 MessageCard


def test_teams_stays_under_28_kb_in_the_worst_case(worst):
    body = render("teams", worst)
    assert len(encode(body)) <= 28 * 1024
    assert body["attachments"][0]["content"]["version"] == "1.4"


# ---- Discord ----------------------------------------------------------------------


def assert_valid_discord(body: dict[str, Any]) -> None:
    assert body["allowed_mentions"] == {"parse": []}
    assert utf16_len(body["content"]) <= 2000
    (embed,) = body["embeds"]
    assert utf16_len(embed["title"]) <= 256 and utf16_len(embed["description"]) <= 4096
    assert len(embed["fields"]) <= 25
    for field in embed["fields"]:
        assert 0 < utf16_len(field["name"]) <= 256 and 0 < utf16_len(field["value"]) <= 1024
    assert discord_embed_chars(body) <= 6000


def test_discord_sends_an_embed_with_colour_and_timestamp():
    body = render("discord", notification())
    assert_valid_discord(body)
    (embed,) = body["embeds"]
    assert embed["color"] == 0xD32F2F
    assert embed["timestamp"] == "2024-05-01T12:08:00+00:00"
    assert embed["url"] == "https://vigil.example/alerts/42"
    assert embed["fields"][0]["name"] == "api-latency {instance=10.0.0.1:9090, job=api}"


def test_a_label_saying_everyone_does_not_ping_on_discord():
    body = render("discord", notification(title="@everyone", alerts=[alert(labels={"team": "@everyone @here"})]))
    assert_valid_discord(body)
    assert "@everyone" in json.dumps(body)  # shown as text ...
    assert body["allowed_mentions"] == {"parse": []}  # ... but Discord parses no mention


def test_discord_stays_within_its_limits_in_the_worst_case(worst):
    assert_valid_discord(render("discord", worst))


def test_discord_keeps_the_end_of_a_long_output():
    output = "start\n" + "line\n" * 5000 + "error: the actual failure"
    body = render("discord", notification(remediation=remediation(output_tail=output)))
    assert_valid_discord(body)
    assert body["embeds"][0]["description"].endswith("error: the actual failure\n```")


# ---- Google Chat, generic, apprise --------------------------------------------------


def test_google_chat_sends_a_card_with_escaped_html():
    body = render("googlechat", notification(alerts=[alert(message="<users/all> <b>x</b>")]))
    (card,) = body["cardsV2"]
    assert card["card"]["header"]["title"] == "🔴 [FIRING] api-latency"
    widget = card["card"]["sections"][0]["widgets"][0]["decoratedText"]
    assert widget["topLabel"] == "api-latency"
    assert "&lt;users/all&gt; &lt;b&gt;x&lt;/b&gt;" in widget["text"]
    assert "<users/all>" not in json.dumps(body)
    buttons = card["card"]["sections"][-1]["widgets"][0]["buttonList"]["buttons"]
    assert buttons[0]["onClick"]["openLink"]["url"] == "https://vigil.example/alerts/42"


def test_google_chat_stays_under_32_kb_in_the_worst_case(worst):
    assert len(encode(render("googlechat", worst))) <= 32_000


def test_generic_json_carries_every_alert_as_data():
    body = render("generic", grouped(3, remediation=remediation(), event="remediation.failed"))
    assert set(body) == {"version", "event", "title", "severity", "created_at", "alerts", "alerts_total", "remediation"}
    assert body["alerts_total"] == 3
    assert body["event"] == "remediation.failed" and body["created_at"] == "2024-05-01T12:08:00+00:00"
    assert len(body["alerts"]) == 3
    assert body["alerts"][0]["labels"] == {"instance": "10.0.0.0:9090"}
    assert body["alerts"][0]["started_at"] == "2024-05-01T12:03:00+00:00"
    assert body["remediation"]["name"] == "restart-api" and body["remediation"]["execution_id"] == 7


def test_generic_json_turns_nan_into_null():
    body = render("generic", notification(alerts=[alert(value=float("nan"), threshold=float("inf"))]))
    assert body["alerts"][0]["value"] is None and body["alerts"][0]["threshold"] is None
    encode(body)  # allow_nan=False would raise on NaN


def test_apprise_gets_a_title_markdown_and_a_notify_type():
    body = render("apprise", notification(event="alert.resolved"))
    assert body["title"] == "✅ [FIRING] api-latency"
    assert body["type"] == "success"
    assert "**api-latency** instance=10.0.0.1:9090, job=api: value 0.934 vs threshold 0.8" in body["body"]


# ---- all services -----------------------------------------------------------------


@pytest.mark.parametrize("channel_type", ALL_TYPES)
def test_every_service_renders_json_even_in_the_worst_case(channel_type, worst):
    body = render(channel_type, worst)
    json.loads(encode(body))
    for text in strings(body):
        text.encode("utf-8")  # no lone surrogates from a careless cut


@pytest.mark.parametrize("channel_type", ALL_TYPES)
def test_every_service_renders_a_notification_without_alerts(channel_type):
    body = render(
        channel_type, notification(event="breaker.opened", alerts=[], remediation=remediation(output_tail=""))
    )
    json.loads(encode(body))


def test_relative_links_are_left_out_rather_than_rejected_by_the_service():
    body = render("slack", notification(alerts=[alert(url="/alerts/42")]))
    assert_valid_slack(body)
    assert not [b for b in body["blocks"] if b["type"] == "actions"]


def test_an_unknown_channel_type_is_refused():
    with pytest.raises(ValueError, match="no renderer for channel type 'fax'"):
        render("fax", notification())


def test_google_chat_always_sends_at_least_one_card_section():
    body = render("googlechat", notification(event="breaker.opened", title="Breaker opened", alerts=[]))
    assert body["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"] == "Breaker opened"
