import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from app import migrate
from app.audit import service as audit
from app.audit.models import AuditRecord
from app.db import Database


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path}/v.db")
    with db.read() as session:
        pragmas = {
            p: session.execute(text(f"PRAGMA {p}")).scalar()
            for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
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
        ids = [
            audit.record(
                session, actor="alice", action="thing.change", target=f"t{i}", details={"n": i, "api_token": "hide-me"}
            ).id
            for i in range(5)
        ]
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


def test_alert_labels_are_carried_across_the_labels_table_migration(database: Database) -> None:
    from alembic import command

    from app.alerts import service
    from app.alerts.models import AlertLabel
    from detectors.findings import Finding

    config = migrate.alembic_config(database)
    command.downgrade(config, "0006")
    with database.engine.begin() as conn:  # an alert as revision 0006 stored it
        conn.execute(
            text(
                "INSERT INTO alerts (fingerprint, detector, source, labels, labels_text, severity, state, kind, message,"
                " value, evidence, started_at, last_seen_at) VALUES ('f1', 'cpu', 'detector', :labels, :text, 'warning',"
                " 'firing', 'threshold', 'cpu \"high\"', 0.25, '{}', '2026-11-01 12:00:00.000000',"
                " '2026-11-01 12:00:00.000000')"
            ),
            {"labels": '{"team": "db", "host": "ü-1"}', "text": "\nhost=ü-1\nteam=db\n"},
        )
        conn.execute(
            text(
                "INSERT INTO alert_events (alert_id, at, kind, actor, details)"
                " SELECT id, started_at, 'firing', 'system', '{}' FROM alerts"
            )
        )
    command.upgrade(config, "head")
    with database.engine.connect() as conn:  # re-creating alerts (SQLite batch mode) must not cascade
        assert conn.scalar(text("SELECT count(*) FROM alert_events")) == 1
    with database.read() as session:
        rows = {(r.name, r.value) for r in session.scalars(select(AlertLabel))}
        found = service.search(session, service.AlertQuery(matchers=(("host", "=", "ü-1"),)))
    assert rows == {("team", "db"), ("host", "ü-1")}
    assert [a.fingerprint for a in found] == ["f1"]
    with database.read_connection() as conn:  # the list JSON was filled in for the stored alert
        items, _ = service.search_json(conn, service.AlertQuery())
    assert [json.loads(i) for i in items] == [found[0].as_dict()]
    command.downgrade(config, "0006")
    with database.engine.connect() as conn:
        assert conn.scalar(text("SELECT labels_text FROM alerts")) == "\nhost=ü-1\nteam=db\n"
    command.upgrade(config, "head")
    with database.write() as session:  # new alerts get label rows too
        service.apply(
            session,
            detector="mem",
            severity="warning",
            static_labels={"env": "prod"},
            findings=[Finding(kind="threshold", labels={"host": "h2"}, state="firing", value=1.0)],
            now=datetime(2026, 11, 2, tzinfo=timezone.utc),
        )
    with database.read() as session:
        found = service.search(session, service.AlertQuery(matchers=(("env", "=", "prod"), ("host", "!=", "ü-1"))))
    assert [a.detector for a in found] == ["mem"]


def _inbox_item(key: str) -> dict:
    return {"dedup_key": key, "source": "generic", "name": key}


def test_concurrent_grouped_writes_each_commit_and_answer_their_own_caller(database: Database) -> None:
    from app.ingest import service as ingest

    now = datetime.now(timezone.utc)
    answers: dict[str, int] = {}

    def worker(t: int) -> None:
        for i in range(25):
            key = f"k{t}-{i}" if i % 5 else f"shared-{i}"  # every fifth key is stored by all threads
            answers[f"{t}-{i}"] = database.grouped_write(
                lambda c, key=key: ingest.store(c, [_inbox_item(key)], now=now)
            )

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.read() as session:
        keys = set(session.scalars(text("SELECT dedup_key FROM ingest_inbox")))
    assert len(keys) == 8 * 20 + 5
    assert all(answers[f"{t}-{i}"] == 1 for t in range(8) for i in range(25) if i % 5)
    assert [sum(answers[f"{t}-{i}"] for t in range(8)) for i in range(0, 25, 5)] == [1] * 5  # stored once


def test_a_failing_write_in_a_group_fails_only_its_own_caller(tmp_path) -> None:
    from app.ingest import service as ingest

    database = Database(f"sqlite:///{tmp_path}/v.db")
    migrate.upgrade(database)
    now, go, outcomes = datetime.now(timezone.utc), threading.Event(), {}

    def hold(c):  # the first writer holds the lock until the others have queued behind it
        ingest.store(c, [_inbox_item("first")], now=now)
        go.wait(10)

    def bad(c):
        ingest.store(c, [_inbox_item("bad")], now=now)
        raise ValueError("this write is refused")

    def call(name, write):
        try:
            outcomes[name] = database.grouped_write(write)
        except ValueError as e:
            outcomes[name] = str(e)

    first = threading.Thread(target=call, args=("first", hold))
    first.start()
    while not database._group._busy:
        time.sleep(0.01)
    queued = [
        threading.Thread(target=call, args=(name, write))
        for name, write in (
            ("b", lambda c: ingest.store(c, [_inbox_item("b")], now=now)),
            ("bad", bad),
            ("d", lambda c: ingest.store(c, [_inbox_item("d")], now=now)),
        )
    ]
    for thread in queued:
        thread.start()
    while len(database._group._pending) < 3:  # b, bad and d wait as one group
        time.sleep(0.01)
    go.set()
    for thread in [first, *queued]:
        thread.join()
    assert outcomes == {"first": None, "b": 1, "bad": "this write is refused", "d": 1}
    with database.read() as session:
        assert set(session.scalars(text("SELECT dedup_key FROM ingest_inbox"))) == {"first", "b", "d"}
    database.dispose()


def test_when_the_database_is_away_a_group_fails_at_once_not_write_by_write(tmp_path) -> None:
    from app.ingest import service as ingest

    database = Database(f"sqlite:///{tmp_path}/v.db")
    migrate.upgrade(database)
    now, outcomes, attempts = datetime.now(timezone.utc), {}, []
    entered, go = threading.Event(), threading.Event()

    @contextmanager
    def away():
        # A really locked database costs the 30 s busy timeout per attempt; this stands in for it.
        attempts.append(1)
        raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
        yield

    def call(name, write):
        try:
            outcomes[name] = database.grouped_write(write)
        except OperationalError as e:
            outcomes[name] = str(e.orig)

    def hold(c):
        # Inside the first group's transaction: its connection is open, and every later
        # write must queue behind it as one pending group, however the threads are scheduled.
        entered.set()
        assert go.wait(60)

    first = threading.Thread(target=call, args=("first", hold))
    first.start()
    assert entered.wait(60)
    queued = [
        threading.Thread(target=call, args=(name, lambda c, name=name: ingest.store(c, [_inbox_item(name)], now=now)))
        for name in ("a", "b", "c")
    ]
    for thread in queued:
        thread.start()
    deadline = time.monotonic() + 60
    while len(database._group._pending) < 3:  # each queued caller is waiting for its turn
        assert time.monotonic() < deadline, "the three writes never queued"
        time.sleep(0.01)
    database.write_connection = away  # the database goes away while they wait
    go.set()
    for thread in [first, *queued]:
        thread.join()
    assert outcomes == {"first": None, "a": "database is locked", "b": "database is locked", "c": "database is locked"}
    assert len(attempts) == 1
    database.dispose()
