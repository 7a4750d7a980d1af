"""alerts by firing time

A rehearsal reads a period's firings in time order; this index gives them in order
without sorting the alerts table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:40:00
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_fired_at_id", "alerts", ["fired_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_fired_at_id", table_name="alerts")
