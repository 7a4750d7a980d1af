"""Process-wide keys from settings: the session-signing secret and the audit chain's HMAC key."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from config.schema import Settings


def secret_key(settings: Settings) -> str:
    """settings.secret_key, else a random key made once in <data_dir>/secret_key (0600).

    Every Gunicorn worker builds its own app; reading one file gives them all the same
    key, so a cookie signed by one worker is accepted by the others.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = Path(settings.data_dir).resolve() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic and refuses to replace: the first worker wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def audit_key(settings: Settings) -> bytes:
    """settings.audit_key (VIGIL_AUDIT_KEY), else one derived from the secret key.

    Never stored in the database, so whoever can write the database cannot re-hash the chain.
    Derived rather than the secret key itself, so an audit MAC never doubles as a cookie signature.
    """
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    return hmac.new(secret_key(settings).encode(), b"vigil audit chain v1", hashlib.sha256).digest()
