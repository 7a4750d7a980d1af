"""incidents and alert search

Alerts fold into incidents (a row per incident, kept as members fire and resolve) and
carry a lower-cased search text for free-text search; PostgreSQL gets a trigram index on
it when the pg_trgm extension can be had. Existing alerts get their search text here;
they are not folded into incidents (only alerts that fire from now on are).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 16:20:00
"""
import logging

from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

_SQLITE_TEXT = """UPDATE alerts SET search_text = lower(detector || char(10)
  || coalesce((SELECT group_concat(key || '=' || value, char(10)) FROM json_each(alerts.labels)), '') || char(10)
  || coalesce(message, '') || char(10)
  || coalesce((SELECT group_concat(key || '=' || value, char(10))
               FROM json_each(json_extract(alerts.evidence, '$.annotations'))), ''))"""
_PG_TEXT = """UPDATE alerts SET search_text = lower(detector || E'\\n'
  || coalesce((SELECT string_agg(key || '=' || value, E'\\n') FROM json_each_text(alerts.labels::json)), '')
  || E'\\n' || coalesce(message, '') || E'\\n'
  || coalesce((SELECT string_agg(key || '=' || value, E'\\n') FROM json_each_text(
       CASE WHEN json_typeof(alerts.evidence::json -> 'annotations') = 'object'
            THEN alerts.evidence::json -> 'annotations' ELSE '{}'::json END)), ''))"""


def upgrade() -> None:
    op.create_table(
        'incidents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('group_key', sa.String(length=64), nullable=False),
        sa.Column('detector', sa.String(length=200), nullable=False),
        sa.Column('group_labels', sa.JSON(), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('alert_count', sa.Integer(), nullable=False),
        sa.Column('open_count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    )
    for name, columns in (("ix_incidents_group_key_id", ["group_key", "id"]), ("ix_incidents_state_id", ["state", "id"]),
                          ("ix_incidents_severity_id", ["severity", "id"]), ("ix_incidents_detector_id", ["detector", "id"]),
                          ("ix_incidents_started_at", ["started_at"])):
        op.create_index(name, "incidents", columns)
    op.add_column('alerts', sa.Column('incident_id', sa.Integer(), nullable=True))
    op.add_column('alerts', sa.Column('search_text', sa.Text(), nullable=True))
    op.create_index("ix_alerts_incident_id_id", "alerts", ["incident_id", "id"])
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute(_SQLITE_TEXT)
        return
    op.execute(_PG_TEXT)
    _trigram_index(bind)


def _trigram_index(bind: sa.Connection) -> None:
    """A GIN trigram index makes LIKE '%word%' an index lookup; without the extension (a
    role that may not create it) search still works, scanning newest first."""
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm unavailable, alert search will scan: %s", str(exc).splitlines()[0])
        return
    op.execute("CREATE INDEX ix_alerts_search_trgm ON alerts USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_alerts_search_trgm")
    op.drop_index("ix_alerts_incident_id_id", table_name="alerts")
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('search_text')
        batch_op.drop_column('incident_id')
    op.drop_table('incidents')
