"""alerts.listed: each alert as the list answers it

The alerts list read 17 columns per row and built JSON from them on every request; the
row now keeps its list JSON (without "id"), written by the ORM on every insert and update.
This fills it for the alerts already stored, in the same shape.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 13:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TEXTS = ('fingerprint', 'detector', 'source')
TAIL = ('severity', 'state', 'kind', 'message', 'value', 'threshold')
TIMES = ('started_at', 'fired_at', 'resolved_at', 'last_seen_at', 'acked_at')


def _fields(time, labels) -> str:
    parts = [f"'{c}', {c}" for c in TEXTS] + [f"'labels', {labels}"] + [f"'{c}', {c}" for c in TAIL]
    parts += [f"'{c}', {time(c)}" for c in TIMES] + ["'acked_by', acked_by"]
    return ", ".join(parts)


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listed', sa.Text(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':  # times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff'
        fields = _fields(lambda c: f"replace({c}, ' ', 'T') || '+00:00'", "json(labels)")
        op.execute(f"UPDATE alerts SET listed = json_object({fields})")
    else:
        fields = _fields(lambda c: f"""to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')""",
                         "labels::json")
        op.execute(f"UPDATE alerts SET listed = json_build_object({fields})::text")


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('listed')
