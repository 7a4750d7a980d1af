"""Write and verify the audit log: an HMAC-keyed hash chain with a signed, anchored head.

Callers pass their own open session so the record commits or rolls back with the change it
describes. Each record's hash is an HMAC (the key comes from the configuration, never the
database) over its content and the previous hash, so nobody who can only write the
database can edit a record and re-hash the rest. The head (count, last id, last hash, signed)
is updated in the same transaction and copied after commit to a file outside the database
(app.audit.anchor), so deleting the newest records is detected too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.audit import anchor
from app.audit.models import AuditHead, AuditRecord
from app.db import normalise_url, page, utcnow
from config.schema import Settings

log = logging.getLogger("vigil.audit")
GENESIS = "0" * 64
ANCHOR_FILE = "audit-anchor.json"
_SECRET_WORDS = ("secret", "token", "password", "authorization", "api_key", "apikey", "webhook", "credential")


@dataclass(frozen=True)
class Keyring:
    """The key that signs one database's chain head, and where its anchor file is (None: no file)."""

    key: bytes
    anchor_path: Path | None


# A process that never configured its database (a test or a bench building Database by hand)
# still gets a working chain, keyed with a key everyone knows and without an anchor file.
_UNCONFIGURED = Keyring(key=b"vigil-audit-unconfigured-development-key", anchor_path=None)
_keyrings: dict[str, Keyring | Settings] = {}  # Settings until first used (see configure)


def _url(value: Any) -> str:
    return str(
        make_url(normalise_url(str(value)) if isinstance(value, str) else value).render_as_string(hide_password=False)
    )


def configure(database_url: str, settings: Settings) -> None:
    """Key this process's audit chain for the database at `database_url` (done by app.database_for).

    The key is derived on first use: a process that never audits (a worker on a machine with
    a read-only data_dir, say) never needs the secret-key file.
    """
    _keyrings[_url(database_url)] = settings


def forget(database_url: str) -> None:
    """Drop a database's keyring (tests that reuse one database with new data directories)."""
    _keyrings.pop(_url(database_url), None)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def _keyring(session: Session) -> Keyring:
    url = _url(_engine(session).url)
    ring = _keyrings.get(url, _UNCONFIGURED)
    if isinstance(ring, Settings):
        from app.auth import keys  # auth imports audit; the key derivation lives with the other keys

        ring = _keyrings[url] = Keyring(keys.audit_key(ring), Path(ring.data_dir).resolve() / ANCHOR_FILE)
    return ring


def redact(details: Any) -> Any:
    """Mask values whose key suggests a secret, at any depth."""
    if isinstance(details, dict):
        return {k: "***" if any(w in str(k).lower() for w in _SECRET_WORDS) else redact(v) for k, v in details.items()}
    if isinstance(details, list):
        return [redact(v) for v in details]
    return details


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Append one record, chained to the last one, and move the head to it."""
    ring = _keyring(session)
    _lock_chain(session)
    head = _head(session)
    row = AuditRecord(
        at=at or utcnow(),
        actor=actor,
        action=action,
        target=target,
        details=redact(details or {}),
        prev_hash=head.last_hash,
    )
    row.hash = _digest(ring.key, row)
    session.add(row)
    session.flush()
    if ring.anchor_path is not None and _anchor_follows(session, ring.anchor_path, head):
        _write_anchor_after_commit(session, ring)
    head.count, head.last_id, head.last_hash = head.count + 1, row.id, row.hash
    head.mac = _sign(ring.key, head)
    return row


def _head(session: Session) -> AuditHead:
    """The head row; made when missing (a new or emptied table), continuing the anchor's chain id."""
    head = session.get(AuditHead, 1)
    if head is None:
        count = session.scalar(select(func.count()).select_from(AuditRecord)) or 0
        last = session.execute(
            select(AuditRecord.id, AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)
        ).first()
        head = AuditHead(
            id=1,
            chain_id=secrets.token_hex(16),
            count=count,
            last_id=last.id if last else 0,
            last_hash=last.hash if last else GENESIS,
            keyed_from=0,
            mac="",
        )
        session.add(head)
        log.warning("audit: the chain's head row was missing; a new one starts", extra={"records": count})
    return head


def _anchor_follows(session: Session, path: Path, head: AuditHead) -> bool:
    """Whether the anchor file still describes a prefix of this chain (then it may move forward).

    When it does not (records it names were deleted, or it names another chain), it is left
    as it is: it is the evidence verify() reports.
    """
    try:
        pinned = anchor.read(path)
    except ValueError:
        return True
    if pinned is None:
        return True
    if pinned.chain_id == head.chain_id and pinned.count <= head.count:
        if pinned.count == head.count:
            return hmac.compare_digest(pinned.last_hash, head.last_hash)
        stored = session.scalar(select(AuditRecord.hash).where(AuditRecord.id == pinned.last_id))
        return stored == pinned.last_hash
    log.error(
        "audit: the anchor file no longer matches the chain in the database; it is kept as evidence",
        extra={"path": str(path)},
    )
    return False


def _write_anchor_after_commit(session: Session, ring: Keyring) -> None:
    if session.info.get("vigil.audit_anchor"):
        return
    session.info["vigil.audit_anchor"] = True

    @event.listens_for(session, "after_commit")
    def _after_commit(committed: Session) -> None:
        if committed.in_nested_transaction():
            return  # a savepoint's release: the transaction holding the records is still open
        # Read what actually committed (a savepoint may have rolled some records back), on a
        # connection that takes no lock (a writing BEGIN would wait for other writers).
        try:
            with _engine(committed).execution_options(sqlite_begin=None).connect() as connection:
                head = connection.execute(select(AuditHead.__table__).where(AuditHead.id == 1)).mappings().first()
            if head is not None and head["mac"] and ring.anchor_path is not None:
                fields = {k: head[k] for k in anchor.Anchor.__dataclass_fields__}
                anchor.advance(ring.anchor_path, anchor.Anchor(**fields))
        except Exception:  # the change itself is committed; verify() will show a stale anchor
            log.exception("audit: could not write the anchor file")


@dataclass(frozen=True)
class Verification:
    """The answer of `verify`: whether the chain is intact, how many records were checked, and
    where and why it first breaks."""

    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AuditQuery:
    """What the API and the dashboard filter the audit log by (equality on actor, action and
    target; `at` within [since, until)), and the keyset page: records below `cursor`."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: int | None = None
    limit: int = 50

    def conditions(self) -> list[Any]:
        """The filters as WHERE clauses (the CSV export streams the same rows)."""
        found: list[Any] = [
            getattr(AuditRecord, key) == getattr(self, key)
            for key in ("actor", "action", "target")
            if getattr(self, key)
        ]
        if self.since:
            found.append(AuditRecord.at >= self.since)
        if self.until:
            found.append(AuditRecord.at < self.until)
        return found


def search(session: Session, query: AuditQuery) -> tuple[list[AuditRecord], int | None]:
    """A page of records, newest first, and the cursor of the next page (None at the end)."""
    stmt = select(AuditRecord).where(*query.conditions()).order_by(AuditRecord.id.desc()).limit(query.limit + 1)
    if query.cursor:
        stmt = stmt.where(AuditRecord.id < query.cursor)
    return page(list(session.scalars(stmt)), query.limit)


def verify(session: Session, *, batch: int = 5000) -> Verification:
    """Walk the chain in id order, then check it reaches its signed head and the anchor file."""
    ring = _keyring(session)
    try:  # the file first: it is written after commit, so the head read next is at least as far
        pinned = anchor.read(ring.anchor_path) if ring.anchor_path else None
    except ValueError as exc:
        return Verification(False, 0, None, str(exc))
    head = session.get(AuditHead, 1)
    keyed_from = head.keyed_from if head else 0
    checkpoints: dict[int, tuple[int, str] | None] = {c.count: None for c in (head, pinned) if c is not None}
    prev, checked, after = GENESIS, 0, 0
    while True:
        rows = session.scalars(
            select(AuditRecord).where(AuditRecord.id > after).order_by(AuditRecord.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.prev_hash != prev:
                return Verification(False, checked, row.id, "prev_hash does not match the previous record")
            if row.hash != _digest(ring.key if checked >= keyed_from else None, row):
                return Verification(False, checked, row.id, "record content does not match its hash")
            prev, checked, after = row.hash, checked + 1, row.id
            if checked in checkpoints:
                checkpoints[checked] = (row.id, row.hash)
    return _reaches(ring, head, pinned, checkpoints, checked, after)


def _reaches(
    ring: Keyring,
    head: AuditHead | None,
    pinned: anchor.Anchor | None,
    seen: dict[int, tuple[int, str] | None],
    checked: int,
    last_id: int,
) -> Verification:
    """Whether the walked chain ends where its head and the anchor file say it had got to."""
    if head is None:
        if checked or pinned:
            return Verification(False, checked, None, "the audit head row is missing")
        return Verification(True, checked)
    if head.mac and not hmac.compare_digest(head.mac, _sign(ring.key, head)):
        return Verification(False, checked, None, "the head row's signature does not match (changed without the key)")
    if not head.mac and (head.count != head.keyed_from or pinned is not None):
        return Verification(False, checked, None, "the head row has lost its signature")
    for name, mark in (("the head row", head), ("the anchor file " + ANCHOR_FILE, pinned)):
        if mark is None:
            continue
        if isinstance(mark, anchor.Anchor) and (
            mark.chain_id != head.chain_id or not hmac.compare_digest(mark.mac, _sign(ring.key, mark))
        ):
            return Verification(False, checked, None, f"{name} belongs to another chain or is not signed with this key")
        if seen.get(mark.count) != (mark.last_id, mark.last_hash):
            missing = (
                f"records after id {last_id} are missing"
                if checked < mark.count
                else f"record #{mark.count} is not the one it names"
            )
            return Verification(
                False,
                checked,
                None,
                f"{missing}: the chain holds {checked} records, {name} says {mark.count} ending at id {mark.last_id}",
            )
    return Verification(True, checked)


def _digest(key: bytes | None, row: AuditRecord) -> str:
    body = json.dumps(
        [row.prev_hash, row.at.isoformat(timespec="microseconds"), row.actor, row.action, row.target, row.details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()
    if key is None:  # records written before the chain was keyed (see AuditHead.keyed_from)
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _sign(key: bytes, head: AuditHead | anchor.Anchor) -> str:
    body = json.dumps([head.chain_id, head.count, head.last_id, head.last_hash, head.keyed_from]).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _lock_chain(session: Session) -> None:
    # SQLite serialises writers with BEGIN IMMEDIATE already; PostgreSQL needs a lock so
    # two transactions never chain onto the same previous record.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7426001)"))
