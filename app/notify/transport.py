"""Deliver one rendered body to one channel, and decide when to try again.

`send` makes exactly one attempt and classifies the outcome; the sender loop owns the
outbox row, the retry schedule (`next_attempt_at`) and giving up after the channel's
`give_up_after_s`.

Webhook URLs are secrets (whoever has one can post), and requests puts the URL in its
exception messages, so no error text here is ever built from an exception message or
from unredacted response text.

Verifying a `generic` delivery (receiver side)::

    ts = request.headers["X-Vigil-Timestamp"]           # unix seconds, as text
    sig = request.headers["X-Vigil-Signature"]          # "sha256=<hex>"
    if abs(time.time() - int(ts)) > 300:                # older than 5 minutes: replay
        reject()
    mac = hmac.new(secret.encode(), ts.encode() + b"." + raw_body, hashlib.sha256)
    if not hmac.compare_digest("sha256=" + mac.hexdigest(), sig):
        reject()

Sign and check the raw request bytes, not re-serialised JSON. The body's `sent_at` is
the same instant as the timestamp header.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import datetime, timedelta
from typing import Any

import requests

from app.notify import chatapi
from app.notify.delivery import MIN_RETRY_AFTER_S, USER_AGENT, Delivery, classify, where
from app.notify.messages import utc
from app.notify.render import encode
from config.channels import ChannelConfig, GenericChannel


def _headers(channel: ChannelConfig, data: bytes, now: datetime, idempotency_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    if isinstance(channel, GenericChannel):
        stamp = str(int(utc(now).timestamp()))
        key = channel.secret.get_secret_value().encode()
        mac = hmac.new(key, stamp.encode() + b"." + data, hashlib.sha256)
        headers |= {"X-Vigil-Timestamp": stamp, "X-Vigil-Signature": f"sha256={mac.hexdigest()}"}
    return headers


def _post(
    channel: ChannelConfig, body: dict[str, Any], now: datetime, session: requests.Session, idempotency_key: str | None
) -> Delivery:
    if isinstance(channel, GenericChannel):
        body = {**body, "sent_at": utc(now).replace(microsecond=0).isoformat()}
        if idempotency_key:
            body["idempotency_key"] = idempotency_key  # inside the signed bytes, unlike the header
    data = encode(body)
    assert channel.url is not None  # config: every channel but a bot has a url, and bots never come here
    try:
        with session.post(
            channel.url.get_secret_value(),
            data=data,
            headers=_headers(channel, data, now, idempotency_key),
            timeout=channel.timeout_s,
            allow_redirects=False,
            stream=True,
        ) as response:
            return classify(channel, response, now)
    # Messages are built here, never from the exception, whose text contains the URL.
    except requests.Timeout:
        return Delivery(ok=False, error=f"timed out after {channel.timeout_s:g}s sending to {where(channel)}")
    except requests.ConnectionError:
        return Delivery(ok=False, error=f"ConnectionError to {where(channel)}")
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        return Delivery(ok=False, error=f"invalid webhook URL for {where(channel)}", permanent=True)
    except requests.RequestException as exc:
        return Delivery(ok=False, error=f"{type(exc).__name__} sending to {where(channel)}")


def _notify_apprise(channel: ChannelConfig, body: dict[str, Any]) -> Delivery:
    import apprise  # imported here: only apprise channels need it, and it loads ~100 plugins

    assert channel.url is not None  # config: an apprise channel has a url
    service = apprise.Apprise.instantiate(channel.url.get_secret_value(), suppress_exceptions=True)
    if service is None:
        return Delivery(ok=False, error=f"apprise does not understand the URL of {where(channel)}", permanent=True)
    service.socket_connect_timeout = service.socket_read_timeout = channel.timeout_s
    try:
        ok = service.notify(title=body["title"], body=body["body"], notify_type=body.get("type", "info"))
    except Exception as exc:  # a plugin bug must not stop the sender; the text may hold the URL
        return Delivery(ok=False, error=f"apprise raised {type(exc).__name__} for {where(channel)}")
    # apprise reports only True/False: a failure could be anything, so it counts as transient.
    return Delivery(ok=True) if ok else Delivery(ok=False, error=f"apprise could not notify {where(channel)}")


def send(
    channel: ChannelConfig,
    body: dict[str, Any],
    *,
    now: datetime,
    session: requests.Session | None = None,
    idempotency_key: str | None = None,
) -> Delivery:
    """Make one delivery attempt of a rendered body to a channel.

    Args:
        channel: where to send; its `timeout_s` bounds the connect and each read.
        body: the output of `render(channel.type, ...)`.
        now: the time of the attempt (UTC-aware); it signs `generic` bodies and
            resolves a Retry-After given as an HTTP-date.
        session: a requests Session to reuse connections; a new one is used if None.
            `apprise` channels use neither: apprise makes its own requests.
        idempotency_key: sent as the `Idempotency-Key` header (and in a `generic`
            body) so a receiver can drop a message it was already sent.

    Returns:
        The Delivery: ok on 2xx; on 429 not permanent with `retry_after_s`; 5xx, 408,
        timeouts and connection errors transient; other 3xx/4xx permanent. Its error
        text names the channel, never its URL or secret.
    """
    if channel.type == "apprise":
        return _notify_apprise(channel, body)
    if channel.threaded:  # a bot: the same body, posted through the service's API
        own = session or requests.Session()
        return chatapi.post(channel, body, thread=None, http=own, now=now).delivery
    if session is not None:
        return _post(channel, body, now, session, idempotency_key)
    with requests.Session() as own:
        return _post(channel, body, now, own, idempotency_key)


def backoff_s(attempt: int, *, base: float = 2, cap: float = 300, rng: random.Random) -> float:
    """Return a delay before retry number `attempt`: exponential with full jitter.

    Full jitter (uniform between 0 and min(cap, base * 2**(attempt-1))) spreads out
    senders that failed together, so a recovering service is not hit all at once.

    Args:
        attempt: how many attempts have failed so far (1 for the first retry).
        base: the ceiling of the first delay, seconds.
        cap: the largest ceiling, seconds.
        rng: the random source (pass a seeded one in tests).

    Raises:
        ValueError: attempt is less than 1.
    """
    if attempt < 1:
        raise ValueError(f"attempt must be at least 1, got {attempt}")
    ceiling = min(cap, base * 2 ** min(attempt - 1, 62))  # the exponent cap avoids huge ints
    return rng.uniform(0, ceiling)


def next_attempt_at(delivery: Delivery, attempt: int, now: datetime, *, rng: random.Random) -> datetime | None:
    """Return when to try again after a failed attempt, or None when not to retry.

    A server's Retry-After is obeyed as given (at least MIN_RETRY_AFTER_S): it knows when
    it will take messages again, and growing backoff on top of it made a `Retry-After: 3`
    wait close to two minutes after a few 429s.

    Args:
        delivery: the outcome of attempt number `attempt`.
        attempt: how many attempts have failed so far, including this one.
        now: the time of the failed attempt.
        rng: the random source for the jitter.
    """
    if delivery.ok or delivery.permanent:
        return None
    if delivery.retry_after_s is not None:
        return now + timedelta(seconds=max(delivery.retry_after_s, MIN_RETRY_AFTER_S))
    return now + timedelta(seconds=backoff_s(attempt, rng=rng))
