"""Small fixtures: a migrated database (SQLite file, or PostgreSQL when
VIGIL_TEST_DATABASE_URL is set), an app, a client and tokens per role."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app import create_app, migrate
from app.audit import service as audit
from app.auth import service as auth
from app.db import Base, Database, normalise_url
from config.loader import from_dict
from tests.helpers import Client

PG_URL = os.environ.get("VIGIL_TEST_DATABASE_URL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything touching the database runs again on PostgreSQL (`pytest -m db`).
    for item in items:
        if "database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    assert PG_URL, "only used when VIGIL_TEST_DATABASE_URL is set"
    admin = create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"vigil_test_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_migrated(request: pytest.FixtureRequest) -> str | None:
    if not PG_URL:
        return None
    url: str = request.getfixturevalue("pg_database_url")
    database = Database(url)
    migrate.upgrade(database)
    database.dispose()
    return url


@pytest.fixture
def database_url(tmp_path: Any, _pg_migrated: str | None) -> Iterator[str]:
    if _pg_migrated:
        yield _pg_migrated
        _truncate(_pg_migrated)
        audit.forget(_pg_migrated)  # the next test has its own data_dir (audit key and anchor file)
    else:
        yield f"sqlite:///{tmp_path}/vigil.db"


def _truncate(url: str) -> None:
    engine = create_engine(normalise_url(url))
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    migrate.upgrade(db)
    yield db
    db.dispose()


def make_config(tmp_path: Any, database_url: str, **sections: Any) -> Any:
    raw: dict[str, Any] = {"settings": {"data_dir": str(tmp_path / "data"), "database_url": database_url}}
    for key, value in sections.items():
        if key == "settings":
            raw["settings"].update(value)
        else:
            raw[key] = value
    return from_dict(raw, {})


@pytest.fixture
def config(tmp_path: Any, database_url: str) -> Any:
    return make_config(tmp_path, database_url)


@pytest.fixture
def app(config: Any, database: Database) -> Any:
    application = create_app(config)
    application.config["TESTING"] = True
    yield application
    application.extensions["vigil.db"].dispose()


@pytest.fixture
def tokens(database: Database) -> dict[str, str]:
    """A secret per role, plus a revoked one."""
    secrets: dict[str, str] = {}
    with database.write() as session:
        for role in auth.ROLES:
            _row, secrets[role] = auth.create(session, name=f"test-{role}", role=role, by="test")
        row, secrets["revoked"] = auth.create(session, name="test-revoked", role="admin", by="test")
        auth.revoke(session, token_id=row.id, by="test")
    return secrets


@pytest.fixture
def client(app: Any, tokens: dict[str, str]) -> Client:
    return Client(app.test_client(), tokens)
