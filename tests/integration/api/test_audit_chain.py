"""The audit chain cannot be edited, re-hashed or cut short by someone who can write only the database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from app.audit import service as audit
from app.audit.models import AuditHead, AuditRecord
from app.automation import bindings
from config.schema import BindingConfig

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def keyed(database: Any, config: Any) -> Iterator[Path]:
    """The chain keyed as a configured Vigil keys it; yields the anchor file's path."""
    audit.configure(database.url, config.settings)
    yield Path(config.settings.data_dir).resolve() / audit.ANCHOR_FILE
    audit.forget(database.url)


def _write(database: Any, n: int, start: int = 0) -> list[int]:
    with database.write() as s:
        return [
            audit.record(s, actor="alice", action="thing.change", target=f"t{i}", details={"n": i}).id
            for i in range(start, start + n)
        ]


def _verify(database: Any) -> audit.Verification:
    with database.read() as s:
        return audit.verify(s)


def test_normal_operation_verifies_and_the_anchor_follows_the_head(database: Any, keyed: Path) -> None:
    ids = _write(database, 3) + _write(database, 2, start=3)
    assert _verify(database) == audit.Verification(ok=True, checked=5)
    pinned = json.loads(keyed.read_text())
    assert (pinned["count"], pinned["last_id"]) == (5, ids[-1])
    with database.read() as s:
        head = s.get(AuditHead, 1)
        assert (head.count, head.last_id, head.last_hash) == (5, ids[-1], pinned["last_hash"])


def test_deleting_the_newest_records_fails_verification_naming_the_gap(database: Any, keyed: Path) -> None:
    ids = _write(database, 6)
    with database.write() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.id > ids[3]))
    result = _verify(database)
    assert not result.ok and result.checked == 4
    assert f"records after id {ids[3]} are missing" in result.reason
    assert f"6 ending at id {ids[5]}" in result.reason


def test_putting_back_an_older_head_row_is_caught_by_the_anchor_file(database: Any, keyed: Path) -> None:
    ids = _write(database, 3)
    with database.read() as s:
        old = s.get(AuditHead, 1)
        saved = {c: getattr(old, c) for c in ("chain_id", "count", "last_id", "last_hash", "keyed_from", "mac")}
    _write(database, 3, start=3)
    with database.write() as s:  # what a database-only attacker can do: cut the tail, restore a signed head
        s.execute(delete(AuditRecord).where(AuditRecord.id > ids[2]))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(**saved))
    result = _verify(database)
    assert (
        not result.ok and "anchor file" in result.reason and f"records after id {ids[2]} are missing" in result.reason
    )


def test_editing_a_record_and_rehashing_the_chain_without_the_key_fails(database: Any, keyed: Path) -> None:
    ids = _write(database, 4)
    for guess in (None, b"vigil-audit-unconfigured-development-key", b"secret_key"):
        with database.write() as s:
            s.execute(update(AuditRecord).where(AuditRecord.id == ids[1]).values(actor="mallory"))
            prev = audit.GENESIS
            for row in s.scalars(select(AuditRecord).order_by(AuditRecord.id)):
                row.prev_hash = prev
                row.hash = prev = audit._digest(guess, row)
            head = s.get(AuditHead, 1)
            head.last_hash = prev
        result = _verify(database)
        assert not result.ok and result.first_broken_id == ids[0], (guess, result)


def test_deleting_the_head_row_and_the_tail_is_detected(database: Any, keyed: Path) -> None:
    ids = _write(database, 4)
    with database.write() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.id > ids[1]))
        s.execute(delete(AuditHead))
    assert not _verify(database).ok
    _write(database, 1, start=9)  # even once writing goes on (a new head), the file keeps the evidence
    result = _verify(database)
    assert not result.ok and "anchor file" in result.reason


def test_records_from_before_the_chain_was_keyed_still_verify_and_are_pinned(database: Any, keyed: Path) -> None:
    with database.write() as s:  # as version 0009 wrote them: plain SHA-256, and the head 0010 made
        prev = audit.GENESIS
        for i in range(3):
            row = AuditRecord(at=NOW, actor="old", action="legacy", target=f"t{i}", details={}, prev_hash=prev)
            row.hash = prev = audit._digest(None, row)
            s.add(row)
        s.flush()
        s.execute(delete(AuditHead))
        s.add(AuditHead(id=1, chain_id="c" * 32, count=3, last_id=row.id, last_hash=prev, keyed_from=3, mac=""))
    assert _verify(database).ok
    _write(database, 2)
    assert _verify(database) == audit.Verification(ok=True, checked=5)
    with database.write() as s:  # an old record edited, the old part re-hashed: the first keyed one no longer links
        s.execute(update(AuditRecord).where(AuditRecord.target == "t1").values(actor="mallory"))
        prev = audit.GENESIS
        for row in s.scalars(select(AuditRecord).where(AuditRecord.action == "legacy").order_by(AuditRecord.id)):
            row.prev_hash = prev
            row.hash = prev = audit._digest(None, row)
    result = _verify(database)
    assert not result.ok and result.checked == 3


def test_the_api_reports_a_truncated_log(client: Any, database: Any) -> None:
    for i in range(3):
        assert client.post("/api/v1/tokens", json={"name": f"t{i}", "role": "viewer"}).status_code == 201
    assert client.get("/api/v1/audit/verify").json["ok"] is True
    with database.write() as s:
        newest = s.scalar(select(AuditRecord.id).order_by(AuditRecord.id.desc()).limit(1))
        s.execute(delete(AuditRecord).where(AuditRecord.id == newest))
    answer = client.get("/api/v1/audit/verify").json
    assert answer["ok"] is False and "missing" in answer["reason"]


def test_a_changed_config_file_binding_is_audited(database: Any, keyed: Path) -> None:
    spec = BindingConfig(name="restart-web", remediation="restart", mode="approve", params={"api_token": "t0p"})
    with database.write() as s:
        bindings.sync_from_config(s, [spec], now=NOW)
    with database.write() as s:
        bindings.sync_from_config(s, [spec], now=NOW)  # unchanged: nothing recorded
    changed = spec.model_copy(update={"mode": "auto", "cooldown": 60.0, "params": {"api_token": "n3w"}})
    with database.write() as s:
        bindings.sync_from_config(s, [changed], now=NOW)
    with database.read() as s:
        rows = s.scalars(
            select(AuditRecord).where(AuditRecord.target == "binding:restart-web").order_by(AuditRecord.id)
        ).all()
    assert [(r.action, r.actor) for r in rows] == [("binding.create", "config"), ("binding.update", "config")]
    assert rows[1].details["changed"]["mode"] == {"from": "approve", "to": "auto"}
    assert rows[1].details["changed"]["cooldown_s"] == {"from": 300.0, "to": 60.0}
    assert "t0p" not in json.dumps(rows[1].details) and "n3w" not in json.dumps(rows[1].details)
    assert _verify(database).ok


WRITER = """
import sys
from app.db import Database
from app.audit import service as audit
from config.loader import from_dict
settings = from_dict({"settings": {"data_dir": sys.argv[2], "secret_key": "k" * 32}}, {}).settings
database = Database(sys.argv[1])
audit.configure(database.url, settings)
for i in range(int(sys.argv[3])):
    with database.write() as s:
        audit.record(s, actor=sys.argv[4], action="race", target=str(i))
"""


def test_writers_in_several_processes_keep_the_chain_and_its_anchor_whole(
    database: Any, tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "writers"
    from config.loader import from_dict

    audit.configure(database.url, from_dict({"settings": {"data_dir": str(data), "secret_key": "k" * 32}}, {}).settings)
    try:
        procs = [
            subprocess.Popen([sys.executable, "-c", WRITER, database_url, str(data), "25", f"w{n}"]) for n in range(3)
        ]
        assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
        assert _verify(database) == audit.Verification(ok=True, checked=75)
        assert json.loads((data / audit.ANCHOR_FILE).read_text())["count"] == 75
    finally:
        audit.forget(database.url)


def test_verify_runs_on_the_database_it_is_given(database: Any) -> None:
    # Unconfigured (a bench, a script): a development key, no anchor; the chain still holds together.
    _write(database, 2)
    assert _verify(database).ok
    with database.write() as s:
        s.execute(text("UPDATE audit_records SET target = 'x' WHERE id = (SELECT min(id) FROM audit_records)"))
    assert not _verify(database).ok
