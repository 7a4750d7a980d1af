"""bindings.kind

`remediation` (the default) or `diagnostic`: a read-only script run on firing without
approval, its output on the alert's timeline and chat thread, never judged as a remediation.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='remediation'))


def downgrade() -> None:
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.drop_column('kind')
