"""diagnoses run by RQ workers

With `backend: rq` a queued diagnosis is handed to Redis Queue: `dispatched_at` says when
(a job no worker starts in time is handed over again), `attempts` how often it was (the
job's id names the attempt, so a stale job never runs a diagnosis handed over again).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 16:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('diagnoses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('diagnoses', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('dispatched_at')
