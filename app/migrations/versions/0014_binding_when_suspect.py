"""bindings.when_suspect

A binding may wait for the alert's diagnosis and run only if a signal matching its label
matchers is among the top N suspects (`{"labels": {...}, "top": N}`; NULL: decided at firing).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('when_suspect', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('bindings', schema=None) as batch_op:
        batch_op.drop_column('when_suspect')
