"""alert_state: pending and firing alerts survive restarts

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""
import sqlalchemy as sa
from alembic import op

from slawatch.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("group_key", sa.String(512), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(16), nullable=False),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("annotations", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("active_at", UtcDateTime(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=True),
        sa.Column("keep_firing_since", UtcDateTime(), nullable=True),
        sa.Column("last_seen_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("group_key", "rule", "fingerprint", name="pk_alert_state"),
    )
    op.create_index("ix_alert_state_state", "alert_state", ["state"])


def downgrade() -> None:
    op.drop_index("ix_alert_state_state", table_name="alert_state")
    op.drop_table("alert_state")
