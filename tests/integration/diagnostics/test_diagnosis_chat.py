"""The finished diagnosis reaches chat: an alert.diagnosed message on every channel type,
sent by the real sender to real loopback webhook receivers, naming the top suspects and
linking to the alert page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from app.diagnostics.worker import DiagnosisWorker
from app.notify.sender import Sender
from tests.conftest import make_config
from tests.integration.diagnostics.test_diagnosis_service import START, _fire
from tests.integration.diagnostics.test_diagnosis_service import prometheus as prometheus  # noqa: F401  (a fixture)
from tests.integration.notify.conftest import Webhook
from tests.integration.notify.conftest import webhooks as webhooks  # noqa: F401  (a fixture)

TYPES = ("slack", "mattermost", "teams", "discord", "googlechat", "generic", "apprise")
PUBLIC = "https://vigil.example.com"


def _channel(kind: str, hook: Webhook) -> dict[str, Any]:
    url = hook.url.replace("http://", "json://") if kind == "apprise" else hook.url
    channel = {"name": f"ops-{kind}", "type": kind, "url": url, "group_wait_s": 0, "events": ["alert.diagnosed"]}
    return {**channel, "secret": "0123456789abcdef-secret"} if kind == "generic" else channel


def test_every_channel_type_names_the_top_suspects_with_a_link_to_the_alert(
    tmp_path: Any,
    database_url: str,
    database: Any,
    prometheus: str,  # noqa: F811
    webhooks: Callable[[], Webhook],
) -> None:  # noqa: F811
    hooks = {kind: webhooks() for kind in TYPES}
    detector = {"source": "prom", "query": "latency", "analysis": {"type": "threshold", "above": 1}}
    config = make_config(
        tmp_path,
        database_url,
        settings={"public_url": PUBLIC},
        sources=[{"name": "prom", "type": "prometheus", "url": prometheus, "timeout_s": 60}],
        detectors=[
            {"name": "latency", **detector, "diagnose": {"queries": ['{job="api"}'], "lookback": "30m", "after": "5m"}}
        ],
        channels=[_channel(kind, hook) for kind, hook in hooks.items()],
    )
    alert_id = _fire(database, config, "latency")
    DiagnosisWorker(database, config, {}, holder="t", clock=lambda: START + timedelta(minutes=6)).run_pending()
    Sender(database, config.channels).run_once(START + timedelta(days=1))
    for kind, hook in hooks.items():
        assert len(hook.received) == 1, kind
        text = hook.received[0].body.decode()
        assert "pool_waiting" in text and "instance=db-1" in text, (kind, text)  # the induced cause
        assert "Top 3 suspects" in text and "before the alert" in text, (kind, text)
        if kind != "apprise":  # apprise carries a title and text only
            assert f"{PUBLIC}/alerts/{alert_id}" in text, (kind, text)
