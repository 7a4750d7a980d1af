from __future__ import annotations

from alembic import context
from sqlalchemy import text

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.db import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        # Batch mode drops and re-creates tables; with foreign keys on, dropping one would
        # cascade-delete its children (alert events, executions, ...). Checked again below.
        # Outside any transaction (there it would be a no-op), so on the DB-API connection.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=is_sqlite,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes starting at once must not both create the tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(7426000)"))
        context.run_migrations()
    if is_sqlite:
        broken = connection.connection.driver_connection.execute("PRAGMA foreign_key_check").fetchall()
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
        if broken:
            raise RuntimeError(f"migration left rows with dangling foreign keys: {broken[:5]}")
