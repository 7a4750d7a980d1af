"""alert search index on SQLite (FTS5 trigram)

Free-text search was a LIKE scan of alerts.search_text: a word on no alert read all of a
million rows (seconds). An FTS5 table with the trigram tokenizer indexes every substring of
three characters or more; triggers keep it in step with alerts.search_text. PostgreSQL has
its pg_trgm index from 0017. A later migration that rebuilds the alerts table on SQLite
(batch mode) drops these triggers and must create them again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 16:58:00
"""
from alembic import op


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_CREATE = (
    "CREATE VIRTUAL TABLE alerts_fts USING fts5(search_text, content='alerts', content_rowid='id', "
    "tokenize='trigram')",
    "INSERT INTO alerts_fts(alerts_fts) VALUES ('rebuild')",
    "CREATE TRIGGER alerts_fts_insert AFTER INSERT ON alerts WHEN new.search_text IS NOT NULL BEGIN "
    "INSERT INTO alerts_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER alerts_fts_update AFTER UPDATE OF search_text ON alerts "
    "WHEN old.search_text IS NOT new.search_text BEGIN "
    "INSERT INTO alerts_fts(alerts_fts, rowid, search_text) SELECT 'delete', old.id, old.search_text "
    "WHERE old.search_text IS NOT NULL; "
    "INSERT INTO alerts_fts(rowid, search_text) SELECT new.id, new.search_text WHERE new.search_text IS NOT NULL; END",
    "CREATE TRIGGER alerts_fts_delete AFTER DELETE ON alerts WHEN old.search_text IS NOT NULL BEGIN "
    "INSERT INTO alerts_fts(alerts_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for statement in _CREATE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for name in ("alerts_fts_insert", "alerts_fts_update", "alerts_fts_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS alerts_fts")
