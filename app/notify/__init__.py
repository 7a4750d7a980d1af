"""Chat notifications: what to say (messages), how each service wants it (render), and
one delivery attempt with its retry schedule (transport).

`render` is not re-exported here: the name would hide the `app.notify.render` module.
Use `from app.notify.render import render`.
"""

from app.notify.delivery import Delivery
from app.notify.messages import AlertItem, Notification, RemediationInfo
from app.notify.transport import backoff_s, next_attempt_at, send

__all__ = ["AlertItem", "Delivery", "Notification", "RemediationInfo", "backoff_s", "next_attempt_at", "send"]
