"""dashboard sessions kept server-side; the audit chain's signed head

A dashboard cookie used to be the whole session: signing out forgot it in one browser,
while a copy kept working. Each sign-in is now a row (the cookie holds a random id whose
SHA-256 is stored); sign-out and token revocation delete rows.

audit_head holds the chain's count, last id and last hash with an HMAC over them, updated
in the transaction of every audit record, so deleting the newest records is detected. The
records written before this revision were chained with plain SHA-256: the head starts
unsigned (mac '') with keyed_from = their count, and the first keyed record signs it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:00:00
"""
import secrets

from alembic import op
import sqlalchemy as sa



revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dashboard_sessions',
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('token_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_dashboard_sessions_token_id_api_tokens'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_dashboard_sessions')),
    )
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_token_id'), ['token_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dashboard_sessions_expires_at'), ['expires_at'], unique=False)
    head = op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('chain_id', sa.String(length=32), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('keyed_from', sa.Integer(), nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )
    bind = op.get_bind()
    count = bind.execute(sa.text("SELECT count(*) FROM audit_records")).scalar() or 0
    last = bind.execute(sa.text("SELECT id, hash FROM audit_records ORDER BY id DESC LIMIT 1")).first()
    op.bulk_insert(head, [{"id": 1, "chain_id": secrets.token_hex(16), "count": count,
                           "last_id": last.id if last else 0, "last_hash": last.hash if last else "0" * 64,
                           "keyed_from": count, "mac": ""}])


def downgrade() -> None:
    op.drop_table('audit_head')
    with op.batch_alter_table('dashboard_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dashboard_sessions_expires_at'))
        batch_op.drop_index(batch_op.f('ix_dashboard_sessions_token_id'))
    op.drop_table('dashboard_sessions')
