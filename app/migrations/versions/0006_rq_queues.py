"""rq queues

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 09:40:25.498867
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


ACTIVE = "state IN ('awaiting_approval', 'queued', 'dispatched', 'running')"
PREVIOUS = "state IN ('awaiting_approval', 'queued', 'running')"


def upgrade() -> None:

    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', sa.String(length=64), nullable=False, server_default='default'))

    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', sa.String(length=64), nullable=False, server_default='default'))
        # "dispatched" (handed to an RQ worker) now holds the active slot too.
        batch_op.drop_index('uq_executions_active_binding_fingerprint')
        batch_op.create_index('uq_executions_active_binding_fingerprint', ['binding_id', 'fingerprint'], unique=True,
                              sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))




def downgrade() -> None:

    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index('uq_executions_active_binding_fingerprint')
        batch_op.create_index('uq_executions_active_binding_fingerprint', ['binding_id', 'fingerprint'], unique=True,
                              sqlite_where=sa.text(PREVIOUS), postgresql_where=sa.text(PREVIOUS))
        batch_op.drop_column('queue')

    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.drop_column('queue')


