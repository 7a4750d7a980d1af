"""ingest inbox: an item that cannot be applied is quarantined with its error

One poisoned item (say, text PostgreSQL cannot store) used to fail its whole batch on
every pass, so nothing after it was ever processed. Now it is marked processed with the
error kept beside it; a small partial index lists the failed ones.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ingest_inbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
    op.create_index('ix_ingest_inbox_failed', 'ingest_inbox', ['id'], unique=False,
                    sqlite_where=sa.text('error IS NOT NULL'), postgresql_where=sa.text('error IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_ingest_inbox_failed', table_name='ingest_inbox')
    with op.batch_alter_table('ingest_inbox', schema=None) as batch_op:
        batch_op.drop_column('error')
