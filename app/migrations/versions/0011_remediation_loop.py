"""remediation loop: approvals expire, comments, who rejected or cancelled, interrupted runs

An approval left unanswered used to hold its binding's slot forever. Bindings now have
`approval_timeout_s` (default 1h) and each waiting execution its `expires_at`. An approver
or rejecter may leave a `comment`; `rejected_by` and `cancelled_by` are kept apart from
`approved_by`. `outcome_unknown` marks an interrupted run whose script was started but
whose result never came back (it may have run to completion).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_timeout_s', sa.Float(), nullable=False, server_default='3600'))
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('comment', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('rejected_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('outcome_unknown', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('executions', schema=None) as batch_op:
        for column in ('outcome_unknown', 'cancelled_by', 'rejected_by', 'comment', 'expires_at'):
            batch_op.drop_column(column)
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.drop_column('approval_timeout_s')
