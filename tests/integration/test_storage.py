import threading

import pytest
from sqlalchemy import func, select, text, update

from app import migrate
from app.audit import service as audit
from app.audit.models import AuditRecord
from app.db import Database


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path}/v.db")
    with db.read() as session:
        pragmas = {p: session.execute(text(f"PRAGMA {p}")).scalar()
                   for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")}
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 30000, "synchronous": 1}


def test_concurrent_writers_on_sqlite_wait_instead_of_failing(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path}/v.db")
    migrate.upgrade(db)
    errors: list[Exception] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                with db.write() as session:
                    # read first, then write: the pattern that fails with a deferred BEGIN
                    session.scalar(select(func.count()).select_from(AuditRecord))
                    audit.record(session, actor=f"w{n}", action="test", target=str(i))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == 100
        assert audit.verify(session).ok


def test_migrations_are_idempotent(database: Database) -> None:
    migrate.upgrade(database)
    assert migrate.current(database) is not None


def test_the_audit_chain_verifies_and_reports_the_first_tampered_record(database: Database) -> None:
    with database.write() as session:
        ids = [audit.record(session, actor="alice", action="thing.change", target=f"t{i}",
                            details={"n": i, "api_token": "hide-me"}).id for i in range(5)]
    with database.read() as session:
        assert audit.verify(session).ok
        assert session.get(AuditRecord, ids[0]).details == {"n": 0, "api_token": "***"}
    with database.write() as session:
        session.execute(update(AuditRecord).where(AuditRecord.id == ids[2]).values(actor="mallory"))
    with database.read() as session:
        result = audit.verify(session)
    assert (result.ok, result.first_broken_id, result.checked) == (False, ids[2], 2)


def test_a_failed_transaction_leaves_no_audit_record(database: Database) -> None:
    with pytest.raises(RuntimeError):
        with database.write() as session:
            audit.record(session, actor="a", action="x", target="y")
            raise RuntimeError("the change failed")
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == 0


def test_the_schema_upgrades_from_the_previous_revision_and_back(database: Database) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    config = migrate.alembic_config(database)
    head = ScriptDirectory.from_config(config).get_current_head()
    previous = ScriptDirectory.from_config(config).get_revision(head).down_revision
    command.downgrade(config, previous)
    assert migrate.current(database) == previous
    command.upgrade(config, "head")
    assert migrate.current(database) == head
