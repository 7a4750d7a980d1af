"""Dashboard: incidents pages, search and the shared filter vocabulary, silences (list,
create with preview, expire), bulk acknowledge, and the links received alerts carry."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from app.alerts import service as alerts
from app.silences.models import Silence
from tests.integration.dashboard.conftest import NOW, Web, World


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td(?: data-label="#")?><a href="/alerts/(\d+)">#', page)]


def _external(database: Any, annotations: dict[str, str], **extra: Any) -> int:
    with database.write() as s:
        item = {
            "fingerprint": "am-1",
            "starts_at": NOW.isoformat(),
            "status": "firing",
            "name": "HighErrors",
            "source": "grafana",
            "severity": "critical",
            "labels": {"alertname": "HighErrors", "team": "pay"},
            "summary": "errors",
            "annotations": annotations,
            "generator_url": "https://grafana.example/alerting/1",
            **extra,
        }
        return alerts.apply_external(s, item, now=NOW)[0].alert_id


def test_incident_pages_list_and_show_members_and_timeline(web: Web, world: World, database: Any) -> None:
    web.login("viewer")
    page = web.get("/incidents")
    assert page.status_code == 200 and 'id="incidents-table"' in page.text
    ids = re.findall(r'<a href="/incidents/(\d+)">#', page.text)
    assert len(ids) == 2  # the old resolved cpu alert, and the current one: more than 30m apart
    detail = web.get(f"/incidents/{ids[0]}")
    assert detail.status_code == 200 and f'href="/alerts/{world.alert_id}"' in detail.text
    assert "incident-timeline" in detail.text and "firing" in detail.text
    assert web.get("/incidents?state=resolved").text.count('<a href="/incidents/') == 1
    assert web.get("/incidents?state=bogus").status_code == 400
    assert web.get("/incidents/999").status_code == 404
    alert_page = web.get(f"/alerts/{world.alert_id}").text
    assert f'href="/incidents/{ids[0]}"' in alert_page


def test_the_alerts_page_takes_the_api_filter_vocabulary(web: Web, world: World) -> None:
    web.login("viewer")
    assert _ids(web.get("/alerts?label=instance=web-1").text) == [world.alert_id]
    assert _ids(web.get("/alerts?labels=instance=web-1").text) == [world.alert_id]  # the older alias
    assert _ids(web.get("/alerts?label=instance=~web-.*&label=team=db").text) == [world.alert_id]
    assert _ids(web.get("/alerts?label=instance!~web-.*").text) == [world.resolved_id]
    assert _ids(web.get("/alerts?q=WEB-1").text) == [world.alert_id]
    assert _ids(web.get("/alerts?state=firing,pending&acked=false").text) == [world.alert_id]
    assert web.get("/alerts?label=instance=~(a").status_code == 400
    assert "invalid regex" in web.get("/alerts?label=instance=~(a").text
    assert web.get("/alerts?state=firing,nope").status_code == 400
    page = web.get("/alerts?labels=instance=web-1+team=db").text  # the form shows them back, pages keep them
    assert 'value="instance=web-1 team=db"' in page


def test_bulk_acknowledge_and_take_it_back(web: Web, world: World, database: Any) -> None:
    web.login("operator")
    answer = web.post("/alerts/bulk", {"action": "ack", "alert": str(world.alert_id)})
    assert answer.status_code == 302
    with database.read() as s:
        assert alerts.get(s, world.alert_id).acked_by == "test-operator"
    both = web.client.post(
        "/alerts/bulk",
        data={"action": "ack", "alert": [str(world.alert_id), str(world.resolved_id)], "csrf_token": web.csrf()},
        follow_redirects=True,
    )
    assert "Acknowledged 0 alerts; 1 resolved, skipped." in both.text
    web.post("/alerts/bulk", {"action": "unack", "alert": str(world.alert_id)})
    with database.read() as s:
        assert alerts.get(s, world.alert_id).acked_at is None
        assert [e.kind for e in alerts.events(s, world.alert_id)][-2:] == ["acked", "unacked"]
    assert web.post("/alerts/bulk", {"action": "ack", "alert": str(world.alert_id)}, csrf=False).status_code == 400
    assert web.post("/alerts/bulk", {"action": "explode", "alert": "1"}).status_code == 302
    viewer = Web(web.client.application.test_client(), web.tokens).login("viewer")
    assert viewer.post("/alerts/bulk", {"action": "ack", "alert": str(world.alert_id)}).status_code == 403
    assert 'id="bulk-form"' not in viewer.get("/alerts").text


def test_silence_from_an_alert_with_preview_then_expire(web: Web, world: World, database: Any) -> None:
    web.login("operator")
    form = web.get(f"/silences/new?alert={world.alert_id}").text
    assert 'value="instance"' in form and 'value="web-1"' in form and 'value="cpu"' in form
    preview = web.get("/silences/preview.json?m_name=instance&m_op==&m_value=web-1").json
    assert [a["id"] for a in preview["items"]] == [world.alert_id] and preview["allowed"]
    regex = web.get("/silences/preview.json?m_name=instance&m_op==~&m_value=web.*").json
    assert regex["total"] == 1 and not regex["allowed"] and "only an admin" in regex["reason"]
    assert web.get("/silences/preview.json?m_name=instance&m_op==~&m_value=(a").status_code == 400
    refused = web.post(
        "/silences", {"m_name": "instance", "m_op": "=~", "m_value": "web.*", "duration": "2h", "comment": "deploy"}
    )
    assert refused.status_code == 400 and "only an admin" in refused.text and 'value="web.*"' in refused.text
    no_comment = web.post(
        "/silences", {"m_name": "instance", "m_op": "=", "m_value": "web-1", "duration": "2h", "comment": " "}
    )
    assert no_comment.status_code == 400 and "comment is required" in no_comment.text
    created = web.post(
        "/silences", {"m_name": "instance", "m_op": "=", "m_value": "web-1", "duration": "2h", "comment": "deploying"}
    )
    assert created.status_code == 302
    with database.read() as s:
        silence = s.query(Silence).one()
        assert silence.matchers == [{"name": "instance", "op": "=", "value": "web-1"}]
        assert silence.ends_at - silence.starts_at == timedelta(hours=2) and silence.created_by == "test-operator"
    listed = web.get("/silences").text
    assert f'id="silence-{silence.id}"' in listed and "deploying" in listed
    assert web.post(f"/silences/{silence.id}/expire").status_code == 302
    assert f'id="silence-{silence.id}"' not in web.get("/silences").text
    assert f'id="silence-{silence.id}"' in web.get("/silences?show=all").text
    viewer = Web(web.client.application.test_client(), web.tokens).login("viewer")
    assert (
        viewer.post(
            "/silences", {"m_name": "a", "m_op": "=", "m_value": "b", "duration": "2h", "comment": "x"}
        ).status_code
        == 403
    )
    assert 'id="new-silence"' not in viewer.get("/silences").text


def test_an_admin_may_silence_by_regex_alone(web: Web, world: World) -> None:
    web.login("admin")
    created = web.post(
        "/silences",
        {"m_name": "instance", "m_op": "=~", "m_value": "web.*", "duration": "1h", "comment": "maintenance"},
    )
    assert created.status_code == 302


def test_received_alerts_show_annotations_and_only_safe_links(web: Web, database: Any) -> None:
    alert_id = _external(
        database,
        {
            "runbook_url": "https://runbooks.example/errors",
            "summary": "5xx up",
            "evil_url": "javascript:alert(1)",
            "doc": "data:text/html,x",
            "description": "<script>alert(1)</script>",
        },
        dashboard_url="https://grafana.example/d/abc",
        panel_url="https://grafana.example/d/abc?viewPanel=2",
    )
    page = web.login("viewer").get(f"/alerts/{alert_id}").text
    links = re.findall(r'<a href="([^"]+)" rel="noopener noreferrer nofollow" target="_blank">([^<]+)</a>', page)
    assert links == [
        ("https://runbooks.example/errors", "Runbook"),
        ("https://grafana.example/alerting/1", "Source"),
        ("https://grafana.example/d/abc", "Dashboard"),
        ("https://grafana.example/d/abc?viewPanel=2", "Panel"),
    ]
    assert "javascript:" not in page.split('id="alert-annotations"')[0]  # shown as text only below
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "5xx up" in page
