"""notification outbox

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 09:29:43.634173
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('notification_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('group_key', sa.String(length=200), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('give_up_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_notification_outbox_alert_id_alerts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_outbox'))
    )
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_notification_outbox_alert_channel', ['alert_id', 'channel', 'event'], unique=False)
        batch_op.create_index('ix_notification_outbox_state_not_before', ['state', 'not_before'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_outbox_state_not_before')
        batch_op.drop_index('ix_notification_outbox_alert_channel')

    op.drop_table('notification_outbox')

