"""chat threads and blind detectors

`chat_messages` remembers the message a threaded chat channel (Slack or Mattermost with a
bot token) posted for an alert (its root, updated in place) and for an approval request
(its buttons), so later events reply in the thread and answers update the message.
`detector_status.error_since` / `no_data_since` start the streak of failed or empty runs
that raises a detector's `error` / `nodata` alert after its `for`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-11 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('execution_id', sa.Integer(), nullable=True),
    sa.Column('chat_channel', sa.String(length=64), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_chat_messages_alert_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_chat_messages_execution_id_executions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_messages'))
    )
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.create_index('ix_chat_messages_channel_alert', ['channel', 'role', 'alert_id'], unique=False)
        batch_op.create_index('ix_chat_messages_channel_execution', ['channel', 'role', 'execution_id'], unique=False)
    with op.batch_alter_table('detector_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('no_data_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('detector_status', schema=None) as batch_op:
        batch_op.drop_column('no_data_since')
        batch_op.drop_column('error_since')
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_chat_messages_channel_execution')
        batch_op.drop_index('ix_chat_messages_channel_alert')
    op.drop_table('chat_messages')
