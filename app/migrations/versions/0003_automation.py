"""remediations, bindings, executions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:19:41.906467
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('automation_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_by', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_automation_state'))
    )
    op.create_table('bindings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('remediation', sa.String(length=64), nullable=False),
    sa.Column('detector', sa.String(length=200), nullable=True),
    sa.Column('matchers', sa.JSON(), nullable=False),
    sa.Column('severities', sa.JSON(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('cooldown_s', sa.Float(), nullable=False),
    sa.Column('rate_limit', sa.Integer(), nullable=False),
    sa.Column('rate_window_s', sa.Float(), nullable=False),
    sa.Column('breaker_threshold', sa.Integer(), nullable=False),
    sa.Column('breaker_open', sa.Boolean(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bindings')),
    sa.UniqueConstraint('name', name=op.f('uq_bindings_name'))
    )
    op.create_table('remediations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('latest_version', sa.Integer(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remediations')),
    sa.UniqueConstraint('name', name=op.f('uq_remediations_name'))
    )
    op.create_table('executions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remediation', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('version_hash', sa.String(length=64), nullable=False),
    sa.Column('binding_id', sa.Integer(), nullable=True),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('triggered_by', sa.String(length=64), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('runner', sa.String(length=128), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('output', sa.Text(), nullable=False),
    sa.Column('truncated', sa.Boolean(), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('verify_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recovery_s', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_executions_alert_id_alerts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['binding_id'], ['bindings.id'], name=op.f('fk_executions_binding_id_bindings'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_executions'))
    )
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.create_index('ix_executions_alert_id', ['alert_id'], unique=False)
        batch_op.create_index('ix_executions_binding_queued', ['binding_id', 'queued_at'], unique=False)
        batch_op.create_index('ix_executions_remediation_id', ['remediation', 'id'], unique=False)
        batch_op.create_index('ix_executions_state_id', ['state', 'id'], unique=False)
        batch_op.create_index('uq_executions_active_binding_fingerprint', ['binding_id', 'fingerprint'], unique=True, sqlite_where=sa.text("state IN ('awaiting_approval', 'queued', 'running')"), postgresql_where=sa.text("state IN ('awaiting_approval', 'queued', 'running')"))

    op.create_table('remediation_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remediation_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('script', sa.Text(), nullable=False),
    sa.Column('params_schema', sa.JSON(), nullable=False),
    sa.Column('timeout_s', sa.Float(), nullable=False),
    sa.Column('max_concurrency', sa.Integer(), nullable=False),
    sa.Column('allowed_env', sa.JSON(), nullable=False),
    sa.Column('builtin', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['remediation_id'], ['remediations.id'], name=op.f('fk_remediation_versions_remediation_id_remediations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remediation_versions')),
    sa.UniqueConstraint('hash', name=op.f('uq_remediation_versions_hash')),
    sa.UniqueConstraint('remediation_id', 'version', name='uq_remediation_versions_rem_version')
    )



def downgrade() -> None:

    op.drop_table('remediation_versions')
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index('uq_executions_active_binding_fingerprint', sqlite_where=sa.text("state IN ('awaiting_approval', 'queued', 'running')"), postgresql_where=sa.text("state IN ('awaiting_approval', 'queued', 'running')"))
        batch_op.drop_index('ix_executions_state_id')
        batch_op.drop_index('ix_executions_remediation_id')
        batch_op.drop_index('ix_executions_binding_queued')
        batch_op.drop_index('ix_executions_alert_id')

    op.drop_table('executions')
    op.drop_table('remediations')
    op.drop_table('bindings')
    op.drop_table('automation_state')

