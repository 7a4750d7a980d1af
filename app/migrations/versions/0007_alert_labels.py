"""alert labels table

Label matchers were LIKE scans over alerts.labels_text; a (name, value, alert_id) index
answers them directly, also when nothing matches.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('labels_text')
    op.create_table(
        'alert_labels',
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('value', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_labels_alert_id_alerts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('alert_id', 'name', name=op.f('pk_alert_labels')),
    )
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("INSERT INTO alert_labels (alert_id, name, value) "
                   "SELECT a.id, j.key, CAST(j.value AS TEXT) FROM alerts a, json_each(a.labels) j")
    else:
        op.execute("INSERT INTO alert_labels (alert_id, name, value) "
                   "SELECT a.id, j.key, j.value FROM alerts a, json_each_text(a.labels::json) j")
    with op.batch_alter_table('alert_labels', schema=None) as batch_op:
        batch_op.create_index('ix_alert_labels_name_value_alert_id', ['name', 'value', 'alert_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('labels_text', sa.Text(), nullable=False, server_default=''))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT alert_id, name, value FROM alert_labels ORDER BY alert_id, name"))
    texts: dict[int, str] = {}
    for alert_id, name, value in rows:
        texts[alert_id] = texts.get(alert_id, "\n") + f"{name}={value}\n"
    for alert_id, text in texts.items():
        bind.execute(sa.text("UPDATE alerts SET labels_text = :t WHERE id = :i"), {"t": text, "i": alert_id})
    op.drop_table('alert_labels')
