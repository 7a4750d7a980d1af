"""alerts, detector status, slots, scheduler lease

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:12:33.746748
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('detector', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('labels_text', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acked_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_detector_id', ['detector', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index('ix_alerts_severity_id', ['severity', 'id'], unique=False)
        batch_op.create_index('ix_alerts_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_alerts_state_id', ['state', 'id'], unique=False)
        batch_op.create_index('uq_alerts_open_fingerprint', ['fingerprint'], unique=True, sqlite_where=sa.text("state != 'resolved'"), postgresql_where=sa.text("state != 'resolved'"))

    op.create_table('detector_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('detector', sa.String(length=64), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_detector_slots')),
    sa.UniqueConstraint('detector', 'slot', name='uq_detector_slots_detector_slot')
    )
    op.create_table('detector_status',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_ok_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_duration_s', sa.Float(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('series', sa.Integer(), nullable=False),
    sa.Column('runs_total', sa.Integer(), nullable=False),
    sa.Column('errors_total', sa.Integer(), nullable=False),
    sa.Column('run_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_detector_status'))
    )
    op.create_table('scheduler_lease',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduler_lease'))
    )
    op.create_table('alert_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_events_alert_id_alerts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_events'))
    )
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.create_index('ix_alert_events_alert_id_id', ['alert_id', 'id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_events_alert_id_id')

    op.drop_table('alert_events')
    op.drop_table('scheduler_lease')
    op.drop_table('detector_status')
    op.drop_table('detector_slots')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_open_fingerprint', sqlite_where=sa.text("state != 'resolved'"), postgresql_where=sa.text("state != 'resolved'"))
        batch_op.drop_index('ix_alerts_state_id')
        batch_op.drop_index('ix_alerts_started_at')
        batch_op.drop_index('ix_alerts_severity_id')
        batch_op.drop_index(batch_op.f('ix_alerts_fingerprint'))
        batch_op.drop_index('ix_alerts_detector_id')

    op.drop_table('alerts')

