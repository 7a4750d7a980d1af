"""ingest inbox and silences

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:35:45.377367
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('ingest_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('item', sa.JSON(), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_inbox')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_ingest_inbox_dedup_key'))
    )
    with op.batch_alter_table('ingest_inbox', schema=None) as batch_op:
        batch_op.create_index('ix_ingest_inbox_processed_at_id', ['processed_at', 'id'], unique=False)

    op.create_table('silences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('matchers', sa.JSON(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('expired_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_silences'))
    )
    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.create_index('ix_silences_ends_at', ['ends_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('silences', schema=None) as batch_op:
        batch_op.drop_index('ix_silences_ends_at')

    op.drop_table('silences')
    with op.batch_alter_table('ingest_inbox', schema=None) as batch_op:
        batch_op.drop_index('ix_ingest_inbox_processed_at_id')

    op.drop_table('ingest_inbox')

