"""The retry schedule: exponential backoff with full jitter, and honouring Retry-After."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from app.notify.delivery import Delivery, redact, retry_after
from app.notify.transport import backoff_s, next_attempt_at
from config.channels import parse_channel
from tests.unit.notify.notify_builders import NOW


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 2), (2, 4), (3, 8), (8, 256), (9, 300), (10_000, 300)])
def test_backoff_stays_between_zero_and_a_doubling_ceiling(attempt, ceiling, rng):
    delays = [backoff_s(attempt, rng=rng) for _ in range(200)]
    assert all(0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling * 0.8  # full jitter spreads over the whole range


def test_backoff_is_repeatable_with_a_seeded_random_source():
    assert backoff_s(5, rng=random.Random(7)) == backoff_s(5, rng=random.Random(7))


def test_backoff_takes_base_and_cap():
    assert backoff_s(20, base=1, cap=10, rng=random.Random(1)) <= 10


def test_backoff_refuses_attempt_zero(rng):
    with pytest.raises(ValueError, match="at least 1, got 0"):
        backoff_s(0, rng=rng)


def test_nothing_is_retried_after_success_or_a_permanent_failure(rng):
    assert next_attempt_at(Delivery(ok=True, status=200), 1, NOW, rng=rng) is None
    assert next_attempt_at(Delivery(ok=False, status=404, permanent=True), 1, NOW, rng=rng) is None


def test_a_transient_failure_is_retried_after_the_backoff(rng):
    at = next_attempt_at(Delivery(ok=False, status=500), 3, NOW, rng=rng)
    assert at is not None and NOW <= at <= NOW + timedelta(seconds=8)


def test_retry_after_wins_when_it_asks_for_longer(rng):
    at = next_attempt_at(Delivery(ok=False, status=429, retry_after_s=120), 1, NOW, rng=rng)
    assert at == NOW + timedelta(seconds=120)


def test_retry_after_is_obeyed_even_after_many_attempts():
    # The backoff ceiling at attempt 8 is 256 s; the receiver asked for 3.
    at = next_attempt_at(Delivery(ok=False, status=429, retry_after_s=3), 8, NOW, rng=random.Random(3))
    assert at == NOW + timedelta(seconds=3)


def test_a_retry_after_of_zero_still_waits_a_second():
    at = next_attempt_at(Delivery(ok=False, status=429, retry_after_s=0), 8, NOW, rng=random.Random(3))
    assert at == NOW + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("30", 30.0),
        ("1.5", 1.5),
        ("Wed, 01 May 2024 12:10:00 GMT", 120.0),
        ("Wed, 01 May 2024 12:00:00 GMT", 0.0),
        ("-5", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(header, seconds):
    assert retry_after(header, NOW) == seconds


def test_redact_hides_the_url_its_path_segments_and_the_secret():
    url = "https://hooks.example/services/T0001/B0002/s3cr3tT0ken?key=abcd1234"
    signed = parse_channel({"type": "generic", "name": "g", "url": url, "secret": "hmac-key-0123456789"})
    text = f"404 for {url}; path /services/T0001/B0002/s3cr3tT0ken; token s3cr3tT0ken; key hmac-key-0123456789"
    cleaned = redact(text, signed)
    for secret in ("s3cr3tT0ken", "abcd1234", "hmac-key-0123456789", "hooks.example"):
        assert secret not in cleaned
