"""Run Alembic migrations programmatically (start-up, `vigil db upgrade`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from app.db import Database

SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config(database: Database) -> AlembicConfig:
    """The Alembic configuration for app/migrations, bound to this database's engine."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["engine"] = database.engine
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; concurrent callers wait for each other."""
    command.upgrade(alembic_config(database), revision)


def current(database: Database) -> str | None:
    """The schema's Alembic revision; None for an empty database."""
    with database.engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:  # no table yet: an empty database
            return None
