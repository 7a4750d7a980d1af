"""Real time, real threads: a hanging or rate-limited channel holds up nothing but itself."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from sqlalchemy import select

from app.ingest import payloads
from app.ingest import service as ingest
from app.ingest.models import InboxItem
from app.notify.sender import Sender
from app.scheduler import Scheduler
from tests.conftest import make_config as app_config
from tests.integration.notify.test_outbox import fire, make_config, rows


class WorstJitter(random.Random):
    """Every backoff takes its whole ceiling, so the schedule is known in advance."""

    def uniform(self, a: float, b: float) -> float:
        return b


def wait_for(what: str, predicate: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"waited {timeout_s:g}s for {what}"
        time.sleep(0.05)


def send_in_background(sender: Sender) -> Callable[[], None]:
    """Start the sender's channel threads; the returned function stops and joins them."""
    stop = threading.Event()
    threads = sender.start(stop, active=lambda: True)

    def stopped() -> None:
        stop.set()
        for thread in threads:
            thread.join(30)

    return stopped


def inbound(database, name: str) -> str:
    item = payloads._item(
        "generic",
        name=name,
        status="firing",
        labels={"instance": name},
        severity="critical",
        summary="",
        starts_at=datetime.now(timezone.utc),
        value=1.0,
        extra={},
    )
    database.grouped_write(lambda c: ingest.store(c, [item], now=datetime.now(timezone.utc)))
    return str(item["dedup_key"])


def processed(database, dedup_key: str) -> bool:
    with database.read() as session:
        return session.scalar(select(InboxItem.processed_at).where(InboxItem.dedup_key == dedup_key)) is not None


def test_a_hanging_channel_delays_neither_another_channel_nor_new_alerts(
    database, database_url, tmp_path, webhooks
) -> None:
    stuck, ops = webhooks(), webhooks()
    stuck.answer(delay_s=3600)  # hangs until the test ends (the fixture releases it)
    channels = [
        {"name": "stuck", "type": "slack", "url": stuck.url, "group_wait_s": "0s", "timeout_s": 120},
        {"name": "ops", "type": "slack", "url": ops.url, "group_wait_s": "0s"},
    ]
    config = app_config(
        tmp_path, database_url, channels=channels, settings={"scheduler": {"lease_ttl_s": 5, "renew_every_s": 0.5}}
    )
    scheduler, stop = Scheduler(config, database), threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,))
    thread.start()
    try:
        first = inbound(database, "first")
        wait_for(
            "the first alert to reach both channels",
            lambda: processed(database, first) and len(stuck.received) == 1 and len(ops.received) == 1,
        )
        second = inbound(database, "second")  # while the stuck channel's request hangs
        wait_for(
            "the second alert processed and sent to ops", lambda: processed(database, second) and len(ops.received) == 2
        )
        assert "second" in ops.received[1].body.decode() and len(stuck.received) == 1
    finally:
        stuck.stop.set()
        stop.set()
        thread.join(60)


def test_retry_after_3_is_honoured_as_3_seconds_however_many_429s_came_before(database, webhook) -> None:
    for _ in range(4):
        webhook.answer(429, headers={"Retry-After": "3"})
    config = make_config(webhook.url, group_wait_s="0s")
    fire(database, config, ["a"], at=datetime.now(timezone.utc))
    stop = send_in_background(Sender(database, config.channels, rng=WorstJitter()))
    try:
        wait_for("the fifth request", lambda: len(webhook.received) == 5, 120)
    finally:
        stop()
    times = [r.at for r in webhook.received]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # Backoff on top of Retry-After would wait 3, 4, 8 and 16 s here.
    assert all(3 <= gap < 12 for gap in gaps), gaps
    assert rows(database)[0].state == "sent"


def test_a_hanging_receiver_counts_one_attempt_per_timeout_and_the_wait_starts_after_it(database, webhook) -> None:
    for _ in range(5):
        webhook.answer(delay_s=3600)
    config = make_config(webhook.url, group_wait_s="0s", timeout_s="1s")
    fire(database, config, ["a"], at=datetime.now(timezone.utc))
    stop = send_in_background(Sender(database, config.channels, rng=WorstJitter()))
    try:
        wait_for("a retry", lambda: len(webhook.received) >= 2, 60)
    finally:
        stop_hanging = webhook.stop
        stop_hanging.set()  # any request still hanging ends now and is counted too
        stop()
    [row] = rows(database)
    received = webhook.received
    assert row.attempts == len(received)
    assert len({r.headers["Idempotency-Key"] for r in received}) == 1
    # 1 s of timeout, then the first backoff (2 s at worst jitter) counted from the timeout.
    assert received[1].at - received[0].at >= 3
