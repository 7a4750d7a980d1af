"""One delivery attempt's outcome and what it is made of: an answer classified, a
Retry-After read, secrets redacted from any text kept.

Shared by the webhook transport and the chat services' APIs (app.notify.chatapi), which
both make one attempt and answer a Delivery.
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import requests

from app.notify.messages import utc
from config.channels import ChannelConfig

USER_AGENT = "Vigil-notify/1"
MAX_ERROR_BODY = 200  # characters of a failed response worth keeping for the operator
MIN_RETRY_AFTER_S = 1.0  # `Retry-After: 0` on every answer must not become a busy loop


@dataclass(frozen=True)
class Delivery:
    """The outcome of one attempt. `permanent` failures must not be retried."""

    ok: bool
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    permanent: bool = False


def where(channel: ChannelConfig) -> str:
    """How messages name the channel: `slack channel "ops"`."""
    return f'{channel.type} channel "{channel.name}"'


def _secrets(channel: ChannelConfig) -> list[str]:
    """Every fragment of the URL, token or key that could identify a secret, longest first."""
    found = list(channel.secrets())
    if channel.url is not None:
        parts = urlsplit(channel.url.get_secret_value())
        found += [parts.path, parts.query, parts.netloc] + [p for p in parts.path.split("/") if len(p) >= 6]
    return sorted({p for p in found if len(p) >= 4}, key=len, reverse=True)


def redact(text: str, channel: ChannelConfig) -> str:
    """Replace any part of the channel's URL or secret in `text` with '[redacted]'."""
    for secret in _secrets(channel):
        text = text.replace(secret, "[redacted]")
    return text


def retry_after(value: str | None, now: datetime) -> float | None:
    """Parse a Retry-After header: delay seconds or an HTTP-date; None if absent or invalid."""
    if not value or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (utc(at) - utc(now)).total_seconds())


def classify(channel: ChannelConfig, response: requests.Response, now: datetime) -> Delivery:
    """The Delivery an HTTP answer means: 2xx delivered; 429 retried after its Retry-After; 408 and 5xx
    retried; any other status (a redirect, a 4xx) permanent. A failure's error quotes the start of
    the body, secrets redacted."""
    status = response.status_code
    if 200 <= status < 300:
        return Delivery(ok=True, status=status)
    # Stream a little of the body only: a failing endpoint may answer with megabytes.
    raw = response.raw.read(4 * MAX_ERROR_BODY, decode_content=True) or b""
    detail = redact(raw.decode("utf-8", "replace"), channel).strip()[:MAX_ERROR_BODY]
    error = f"{where(channel)} answered HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        wait = retry_after(response.headers.get("Retry-After"), now)
        return Delivery(ok=False, status=status, error=error, retry_after_s=wait)
    # 3xx: a webhook that redirects is misconfigured, and following would turn POST into GET.
    permanent = status < 500 and status != 408
    return Delivery(ok=False, status=status, error=error, permanent=permanent)
