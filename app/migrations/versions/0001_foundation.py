"""foundation: tokens and audit

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 09:05:12.099515
"""
from alembic import op
import sqlalchemy as sa

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

def upgrade() -> None:

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('name', name=op.f('uq_api_tokens_name')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('audit_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_records')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_records_hash'))
    )
    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.create_index('ix_audit_records_action_id', ['action', 'id'], unique=False)
        batch_op.create_index('ix_audit_records_actor_id', ['actor', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_records_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_records_target_id', ['target', 'id'], unique=False)

def downgrade() -> None:

    with op.batch_alter_table('audit_records', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_records_target_id')
        batch_op.drop_index(batch_op.f('ix_audit_records_at'))
        batch_op.drop_index('ix_audit_records_actor_id')
        batch_op.drop_index('ix_audit_records_action_id')

    op.drop_table('audit_records')
    op.drop_table('api_tokens')

